package conf

import (
	"fmt"
	"math"
	"net"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// parseInt reads a cuttlefish integer (decimal, optionally signed) within
// [lo, hi].
func parseInt(v string, lo, hi int64) (int64, string) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Sprintf("%q is not an integer", clip(v))
	}
	if n < lo || n > hi {
		return 0, fmt.Sprintf("%d is out of range: want %d to %d", n, lo, hi)
	}
	return n, ""
}

// parseBool reads true or false.
func parseBool(v string) (bool, string) {
	switch v {
	case "true":
		return true, ""
	case "false":
		return false, ""
	}
	return false, fmt.Sprintf("%q is not true or false", clip(v))
}

// parseFloat reads a positive number such as 0.4 (cuttlefish's float;
// an integer such as 2 is accepted too).
func parseFloat(v string) (float64, string) {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || strings.ContainsAny(v, "xXpP_") {
		return 0, fmt.Sprintf("%q is not a number such as 0.4", clip(v))
	}
	if f <= 0 {
		return 0, fmt.Sprintf("%s is not above 0", v)
	}
	return f, ""
}

// parseMillis reads a positive integer of milliseconds.
func parseMillis(v string) (time.Duration, string) {
	n, msg := parseInt(v, 1, math.MaxInt64/int64(time.Millisecond))
	if msg != "" {
		return 0, msg + " (milliseconds)"
	}
	return time.Duration(n) * time.Millisecond, ""
}

// parseEnum reads one of the words in allowed.
func parseEnum(v string, allowed ...string) (string, string) {
	for _, a := range allowed {
		if v == a {
			return v, ""
		}
	}
	return "", fmt.Sprintf("%q is not one of %s", clip(v), strings.Join(allowed, ", "))
}

// infoUnit is RabbitMQ's information unit syntax (rabbit_resource_monitor_misc).
var infoUnit = regexp.MustCompile(`^([0-9]+)(kB|Ki|Mi|Gi|Ti|Pi|KB|MB|GB|TB|PB|kb|ki|mb|gb|tb|pb|Kb|Mb|Gb|Tb|Pb|kiB|KiB|MiB|GiB|TiB|PiB|kib|mib|gib|tib|pib|KIB|MIB|GIB|TIB|PIB|k|K|m|M|g|G|p|P|t|T)?$`)

// parseInfoUnit reads a byte count as RabbitMQ does for memory and disk
// limits: an integer, with an optional unit: Ki/KiB (2^10), Mi/MiB, Gi/GiB,
// Ti/TiB, Pi/PiB; k/K/KB/kB (10^3), M/MB, G/GB, T/TB, P/PB (RabbitMQ 3.13
// and later read K, M, G as powers of ten, as Kubernetes does).
func parseInfoUnit(v string) (int64, string) {
	m := infoUnit.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Sprintf("%q is not a size: supported formats are 500MB, 500MiB, 10GB, 10GiB, 2TB, 2TiB, 10000000000", clip(v))
	}
	n, err := strconv.ParseInt(m[1], 10, 64)
	if err != nil {
		return 0, fmt.Sprintf("%q is too large", clip(v))
	}
	mult := unitMultiplier(strings.ToLower(m[2]))
	if n > math.MaxInt64/mult {
		return 0, fmt.Sprintf("%q is too large", clip(v))
	}
	return n * mult, ""
}

// unitMultiplier is the multiplier of a lower-cased information unit.
func unitMultiplier(u string) int64 {
	const ki = 1 << 10
	switch u {
	case "ki", "kib":
		return ki
	case "mi", "mib":
		return ki * ki
	case "gi", "gib":
		return ki * ki * ki
	case "ti", "tib":
		return ki * ki * ki * ki
	case "pi", "pib":
		return ki * ki * ki * ki * ki
	case "k", "kb":
		return 1e3
	case "m", "mb":
		return 1e6
	case "g", "gb":
		return 1e9
	case "t", "tb":
		return 1e12
	case "p", "pb":
		return 1e15
	}
	return 1
}

// parseBytesize reads cuttlefish's bytesize (frame_max): an integer, or
// one followed by KB, MB or GB (any case) as powers of 2.
func parseBytesize(v string) (int64, string) {
	mult := int64(1)
	num := v
	for suffix, m := range map[string]int64{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if len(v) > 2 && strings.EqualFold(v[len(v)-2:], suffix) {
			num, mult = v[:len(v)-2], m
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n < 0 || n > math.MaxInt64/mult {
		return 0, fmt.Sprintf("%q is not a size in bytes such as 131072 or 128KB", clip(v))
	}
	return n * mult, ""
}

// parseListener reads a listener value as RabbitMQ does: a port (every
// interface), or ip:port with the port after the last colon (so both
// "::1:5672" and "[::1]:5672" are IPv6 loopback, and ":::5672" is every
// IPv6 interface). It returns a host:port for net.Listen.
func parseListener(v string) (string, string) {
	if strings.HasPrefix(v, "unix:") || strings.HasPrefix(v, "local:") {
		return "", "Unix domain socket listeners are not supported by Warren"
	}
	if port, err := strconv.Atoi(v); err == nil {
		if port < 0 || port > 65535 {
			return "", fmt.Sprintf("port %d is out of range: want 0 to 65535", port)
		}
		return ":" + v, ""
	}
	i := strings.LastIndexByte(v, ':')
	if i < 0 {
		return "", fmt.Sprintf("%q is not a port or ip:port", clip(v))
	}
	host, portStr := v[:i], v[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	port, err := strconv.Atoi(portStr)
	ip := net.ParseIP(host)
	if err != nil || port < 0 || port > 65535 || ip == nil || strings.Contains(host, "%") {
		return "", fmt.Sprintf("%q is not a port or ip:port", clip(v))
	}
	return net.JoinHostPort(ip.String(), portStr), ""
}

// parseDuration reads milliseconds or a Go duration.
func parseDuration(v string) (time.Duration, string) {
	if d, msg := parseMillis(v); msg == "" {
		return d, ""
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Sprintf("%q is not a positive duration such as 15s or 15000 (milliseconds)", clip(v))
	}
	return d, ""
}
