package conf

import (
	"fmt"
	"math"
	"net"
	"strings"
	"time"
)

// handler applies one setting's value; name is what the key's $ segment
// matched (empty for a key without one). It returns an error message.
type handler func(c *Config, name, v string) string

// keys are the keys Warren implements: RabbitMQ's, with their names and
// value forms (deps/rabbit/priv/schema/rabbit.schema, and the management
// plugin's for management.tcp.*, rabbitmq_prometheus's for
// prometheus.tcp.*), and Warren's own under warren.*. A $
// segment matches any one word.
var keys = map[string]handler{
	"listeners.tcp":       func(c *Config, _, v string) string { return setNone(&c.TCP.None, v) },
	"listeners.tcp.$":     func(c *Config, n, v string) string { return setListener(&c.TCP, n, v) },
	"listeners.ssl":       func(c *Config, _, v string) string { return setNone(&c.SSL.None, v) },
	"listeners.ssl.$":     func(c *Config, n, v string) string { return setListener(&c.SSL, n, v) },
	"default_user":        func(c *Config, _, v string) string { c.DefaultUser = v; return "" },
	"default_pass":        setDefaultPass,
	"default_vhost":       func(c *Config, _, v string) string { c.DefaultVhost = v; return "" },
	"default_user_tags.$": setUserTag,
	"default_permissions.configure": func(c *Config, _, v string) string {
		c.DefaultPermissions.Configure = v
		return ""
	},
	"default_permissions.read":  func(c *Config, _, v string) string { c.DefaultPermissions.Read = v; return "" },
	"default_permissions.write": func(c *Config, _, v string) string { c.DefaultPermissions.Write = v; return "" },
	"loopback_users":            func(c *Config, _, v string) string { return setNone(&c.LoopbackNone, v) },
	"loopback_users.$":          setLoopbackUser,
	"vm_memory_high_watermark.relative": func(c *Config, _, v string) string {
		f, msg := parseFloat(v)
		c.MemoryHighWatermark.Relative = f
		return msg
	},
	"vm_memory_high_watermark.absolute": func(c *Config, _, v string) string {
		n, msg := parseInfoUnit(v)
		c.MemoryHighWatermark.Absolute = n
		return msg
	},
	"disk_free_limit.relative": func(c *Config, _, v string) string {
		f, msg := parseFloat(v)
		c.DiskFreeLimit.Relative = f
		return msg
	},
	"disk_free_limit.absolute": func(c *Config, _, v string) string {
		n, msg := parseInfoUnit(v)
		c.DiskFreeLimit.Absolute = n
		return msg
	},
	"heartbeat":                   setHeartbeat,
	"frame_max":                   setFrameMax,
	"channel_max":                 setChannelMax,
	"max_channels_per_connection": setChannelMax,
	"consumer_timeout":            func(c *Config, _, v string) (msg string) { c.ConsumerTimeout, msg = parseMillis(v); return },
	"collect_statistics_interval": func(c *Config, _, v string) (msg string) { c.StatsInterval, msg = parseMillis(v); return },
	"max_message_size": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 1, 512<<20)
		c.MaxMessageSize = int(n)
		return msg
	},
	"handshake_timeout": func(c *Config, _, v string) (msg string) {
		if v == "infinity" {
			return "infinity is not supported: Warren needs a handshake timeout (milliseconds)"
		}
		c.HandshakeTimeout, msg = parseMillis(v)
		return
	},
	"load_definitions":       func(c *Config, _, v string) string { c.LoadDefinitions = v; return "" },
	"ssl_options.certfile":   func(c *Config, _, v string) string { c.TLS.CertFile = v; return "" },
	"ssl_options.keyfile":    func(c *Config, _, v string) string { c.TLS.KeyFile = v; return "" },
	"ssl_options.cacertfile": func(c *Config, _, v string) string { c.TLS.CACertFile = v; return "" },
	"ssl_options.verify":     setVerify,
	"ssl_options.fail_if_no_peer_cert": func(c *Config, _, v string) (msg string) {
		c.TLS.FailIfNoPeerCert, msg = parseBool(v)
		return
	},
	"ssl_options.honor_cipher_order": func(c *Config, _, v string) (msg string) {
		c.TLS.HonorCipherOrder, msg = parseBool(v)
		return
	},
	"ssl_options.versions.$": func(c *Config, _, v string) string {
		ver, msg := parseTLSVersion(v)
		c.TLS.Versions = append(c.TLS.Versions, ver)
		return msg
	},
	"ssl_options.ciphers.$": setCipher,
	"ssl_handshake_timeout": func(c *Config, _, v string) (msg string) {
		c.TLS.HandshakeTimeout, msg = parseMillis(v)
		return
	},
	"ssl_cert_login_from": func(c *Config, _, v string) (msg string) {
		c.TLS.LoginFrom, msg = parseEnum(v, "distinguished_name", "common_name", "subject_alternative_name", "subject_alt_name")
		if c.TLS.LoginFrom == "subject_alt_name" {
			c.TLS.LoginFrom = "subject_alternative_name"
		}
		return
	},
	"ssl_cert_login_san_type": func(c *Config, _, v string) (msg string) {
		if v == "other_name" {
			return "other_name is not supported by Warren: use dns, ip, email or uri"
		}
		c.TLS.SANType, msg = parseEnum(v, "dns", "ip", "email", "uri")
		return
	},
	"ssl_cert_login_san_index": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 0, math.MaxInt32)
		c.TLS.SANIndex = int(n)
		return msg
	},
	"auth_mechanisms.$": setMechanism,
	"management.tcp.port": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 0, 65535)
		c.ManagementPort = int(n)
		return msg
	},
	"management.tcp.ip": func(c *Config, _, v string) string {
		if net.ParseIP(v) == nil {
			return fmt.Sprintf("%q is not an IP address", clip(v))
		}
		c.ManagementIP = v
		return ""
	},
	"prometheus.tcp.port": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 0, 65535)
		c.PrometheusPort = int(n)
		return msg
	},
	"prometheus.tcp.ip": func(c *Config, _, v string) string {
		if net.ParseIP(v) == nil {
			return fmt.Sprintf("%q is not an IP address", clip(v))
		}
		c.PrometheusIP = v
		return ""
	},
	"log.console.level": func(c *Config, _, v string) (msg string) {
		if v == "none" {
			return "none is not supported: Warren logs to the console only"
		}
		c.LogLevel, msg = parseEnum(v, "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
		return
	},
	"queue_leader_locator": func(c *Config, _, v string) (msg string) {
		c.QueueLeaderLocator, msg = parseEnum(v, "client-local", "balanced", "random", "least-leaders")
		return
	},
	"cluster_name":     func(c *Config, _, v string) string { c.ClusterName = v; return "" },
	"warren.node_name": func(c *Config, _, v string) string { c.Warren.NodeName = v; return "" },
	"warren.data_dir":  func(c *Config, _, v string) string { c.Warren.DataDir = v; return "" },
	"warren.log_format": func(c *Config, _, v string) (msg string) {
		c.Warren.LogFormat, msg = parseEnum(v, "console", "json")
		return
	},
	"warren.cluster.listen":    func(c *Config, _, v string) string { c.Warren.ClusterListen = v; return checkHostPort(v) },
	"warren.cluster.advertise": func(c *Config, _, v string) string { c.Warren.ClusterAdvertise = v; return checkHostPort(v) },
	"warren.cluster.join.$":    setJoin,
	"warren.cluster.secret":    func(c *Config, _, v string) string { c.Warren.ClusterSecret = v; return "" },
	"warren.cluster.definitions_timeout": func(c *Config, _, v string) (msg string) {
		c.Warren.DefinitionsTimeout, msg = parseDuration(v)
		return
	},
	"warren.cluster.quorum_rest_after": func(c *Config, _, v string) (msg string) {
		c.Warren.QuorumRestAfter, msg = parseDuration(v)
		return
	},
	"warren.cluster.bootstrap_expect": func(c *Config, _, v string) string {
		n, msg := parseInt(v, 1, 1000)
		c.Warren.BootstrapExpect = int(n)
		return msg
	},
}

// set applies one setting, returning an error message.
func (c *Config) set(s setting) string {
	segs := strings.Split(s.key, ".")
	for i := range segs {
		segs[i] = strings.ReplaceAll(segs[i], "\x00", ".")
	}
	key := strings.Join(segs, ".")
	pattern, name := strings.Join(segs, "."), ""
	h, ok := keys[pattern]
	if !ok && len(segs) > 1 {
		pattern = strings.Join(append(segs[:len(segs)-1:len(segs)-1], "$"), ".")
		h, ok = keys[pattern]
		name = segs[len(segs)-1]
	}
	if !ok {
		return c.unknown(key, s.line)
	}
	c.lines[key] = s.line
	c.lines[family(key)] = s.line
	return h(c, name, s.value)
}

// unknown handles a key Warren does not implement: ignored when harmless,
// otherwise an error that says whether RabbitMQ knows it.
func (c *Config) unknown(key string, line int) string {
	if ignoredKey(key) {
		c.Ignored = append(c.Ignored, Ignored{Key: key, Line: line})
		return ""
	}
	if rabbitKey(key) {
		return "a RabbitMQ setting that Warren does not implement"
	}
	return "unknown key"
}

// check looks at settings together once every line is read, and returns
// a message and the setting to blame.
func (c *Config) check() (string, setting) {
	at := func(key string) setting { return setting{key: key, line: c.lines[key]} }
	if msg, key := c.checkManagementSSL(); msg != "" {
		return msg, at(key)
	}
	switch {
	case c.TCP.None && len(c.TCP.Addrs) > 0:
		return "listeners.tcp = none and a listeners.tcp.NAME are both set", at("listeners.tcp")
	case c.SSL.None && len(c.SSL.Addrs) > 0:
		return "listeners.ssl = none and a listeners.ssl.NAME are both set", at("listeners.ssl")
	case len(c.SSL.Addrs) > 0 && (c.TLS.CertFile == "" || c.TLS.KeyFile == ""):
		return "a TLS listener needs ssl_options.certfile and ssl_options.keyfile", at("listeners.ssl")
	case c.TLS.VerifyPeer && c.TLS.CACertFile == "":
		return "verify_peer needs ssl_options.cacertfile, the CAs that sign client certificates", at("ssl_options.verify")
	case c.TLS.FailIfNoPeerCert && !c.TLS.VerifyPeer:
		return "fail_if_no_peer_cert = true needs ssl_options.verify = verify_peer", at("ssl_options.fail_if_no_peer_cert")
	}
	return "", setting{}
}

// setNone reads the `none` of listeners.tcp, listeners.ssl and
// loopback_users.
func setNone(dst *bool, v string) string {
	if v != "none" {
		return fmt.Sprintf("%q: the only value is none", clip(v))
	}
	*dst = true
	return ""
}

func setListener(l *Listeners, name, v string) string {
	addr, msg := parseListener(v)
	if msg == "" {
		l.setNamed(name, addr)
	}
	return msg
}

// setDefaultPass refuses an encrypted password, which needs RabbitMQ's
// passphrase to decrypt.
func setDefaultPass(c *Config, _, v string) string {
	if strings.HasPrefix(v, "encrypted:") {
		return "encrypted values are not supported by Warren: give the password in clear (and keep the file private)"
	}
	c.DefaultPass = v
	return ""
}

func setUserTag(c *Config, name, v string) string {
	on, msg := parseBool(v)
	c.DefaultUserTags = setFlag(c.DefaultUserTags, name, on)
	return msg
}

func setLoopbackUser(c *Config, name, v string) string {
	on, msg := parseBool(v)
	c.LoopbackUsers = setFlag(c.LoopbackUsers, name, on)
	return msg
}

func setHeartbeat(c *Config, _, v string) string {
	n, msg := parseInt(v, 0, math.MaxUint16)
	c.Heartbeat = time.Duration(n) * time.Second
	return msg
}

func setFrameMax(c *Config, _, v string) string {
	n, msg := parseBytesize(v)
	if msg == "" && (n < 4096 || n > math.MaxUint32) {
		msg = fmt.Sprintf("%d is out of range: want 4096 to %d", n, uint32(math.MaxUint32))
	}
	c.FrameMax = uint32(n)
	return msg
}

func setChannelMax(c *Config, _, v string) string {
	n, msg := parseInt(v, 0, math.MaxUint16)
	c.ChannelMax = int(n)
	return msg
}

func setVerify(c *Config, _, v string) string {
	w, msg := parseEnum(v, "verify_peer", "verify_none")
	c.TLS.VerifyPeer = w == "verify_peer"
	return msg
}

func setCipher(c *Config, _, v string) string {
	id, tls13, msg := parseCipher(v)
	if msg != "" {
		return msg
	}
	if tls13 {
		c.TLS.CiphersTLS13 = append(c.TLS.CiphersTLS13, id)
	} else {
		c.TLS.Ciphers = append(c.TLS.Ciphers, id)
	}
	return ""
}

func setMechanism(c *Config, _, v string) string {
	switch v {
	case "PLAIN", "AMQPLAIN", "EXTERNAL":
		c.AuthMechanisms = append(c.AuthMechanisms, v)
		return ""
	case "ANONYMOUS", "RABBIT-CR-DEMO":
		return fmt.Sprintf("%s is a RabbitMQ mechanism that Warren does not implement: want PLAIN, AMQPLAIN or EXTERNAL", v)
	}
	return fmt.Sprintf("%q is not an authentication mechanism: want PLAIN, AMQPLAIN or EXTERNAL", clip(v))
}

func setJoin(c *Config, _, v string) string {
	if msg := checkHostPort(v); msg != "" {
		return msg
	}
	c.Warren.ClusterJoin = append(c.Warren.ClusterJoin, v)
	return ""
}

// checkHostPort checks a host:port address.
func checkHostPort(v string) string {
	if _, _, err := net.SplitHostPort(v); err != nil {
		return fmt.Sprintf("%q is not host:port", clip(v))
	}
	return ""
}
