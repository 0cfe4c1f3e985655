package conf

import "strings"

// rabbitCoreKeys are the keys of RabbitMQ's rabbit.schema ($ for a
// variable word), without the families rabbitPrefixes covers. They tell
// a RabbitMQ setting Warren lacks from a misspelt key.
var rabbitCoreKeys = strings.Fields(`
	anonymous_login_pass anonymous_login_user auth_backends.$ auth_backends.$.authn 
	auth_backends.$.authz auth_mechanisms.$ background_gc_enabled background_gc_target_interval 
	channel_interceptor.priorities.$ channel_max_per_node classic_queue.default_version 
	cluster_exchange_limit cluster_keepalive_interval cluster_name cluster_partition_handling 
	cluster_partition_handling.pause_if_all_down.nodes.$ 
	cluster_partition_handling.pause_if_all_down.recover cluster_queue_limit cluster_tags.$ 
	collect_statistics collect_statistics_interval consumer_disconnected_timeout 
	consumer_max_per_channel consumer_timeout credential_validator.min_length 
	credential_validator.regexp credential_validator.validation_backend 
	default_limits.vhosts.$.max_connections default_limits.vhosts.$.max_queues 
	default_limits.vhosts.$.pattern default_pass default_permissions.configure default_permissions.read 
	default_permissions.write default_queue_type default_user default_user_tags.$ 
	default_users.$.configure default_users.$.password default_users.$.read default_users.$.tags 
	default_users.$.vhost_pattern default_users.$.write default_vhost default_worker_pool_size 
	delegate_count disk_free_limit.absolute disk_free_limit.relative distribution.listener.interface 
	distribution.listener.port_range.max distribution.listener.port_range.min erlang.K 
	exchange_types.local_random.enabled frame_max handshake_timeout heartbeat hipe_compile 
	initial_frame_max link_max_per_session listeners.ssl listeners.ssl.$ listeners.tcp listeners.tcp.$ 
	load_definitions loopback_users loopback_users.$ max_channels_per_connection max_connections 
	max_message_size memory_monitor_interval message_interceptors.$.$.$ message_store_shutdown_timeout 
	metadata_store.khepri.default_timeout metadata_store.khepri.snapshot_interval 
	mirroring_sync_batch_size mirroring_sync_max_throughput mnesia_table_loading_retry_limit 
	mnesia_table_loading_retry_timeout motd_file net_ticktime node_tags.$ num_acceptors.ssl 
	num_acceptors.tcp password_hashing_module prevent_startup_if_node_was_reset product.name 
	product.version proxy_protocol queue_index_embed_msgs_below queue_leader_locator 
	queue_master_locator queue_types.classic.enabled queue_types.quorum.enabled 
	queue_types.stream.enabled ranch_connection_max reverse_dns_lookups runtime_parameters.limits.$ 
	session_max_per_connection socket_writer.gc_threshold ssl_allow_poodle_attack ssl_cert_login_from 
	ssl_cert_login_san_index ssl_cert_login_san_type ssl_handshake_timeout 
	total_memory_available_override_value vhost_max vhost_restart_strategy 
	vm_memory_calculation_strategy vm_memory_high_watermark.absolute vm_memory_high_watermark.relative 
	vm_memory_high_watermark_paging_ratio 
`)

// rabbitPrefixes are key prefixes that are RabbitMQ's: families of
// rabbit.schema and the namespaces of its plugins.
var rabbitPrefixes = []string{
	"log.", "amqp10_client.", "amqp_client.", "definitions.", "default_policies.", "quorum_queue.", "raft.",
	"sysmon_handler.", "cluster_formation.", "stream.", "ssl_options.", "deprecated_features.",
	"management.", "management_agent.", "prometheus.", "mqtt.", "web_mqtt.", "stomp.", "web_stomp.",
	"auth_ldap.", "auth_http.", "auth_oauth2.", "auth_cache.", "federation.", "shovel.", "amqp1_0.",
	"tracing.", "peer_discovery.", "trust_store.", "consistent_hash_exchange.",
}

// ignoredKeys are RabbitMQ settings that tune the Erlang runtime or
// RabbitMQ's internals and change nothing a client could notice in
// Warren: they are accepted and listed in Config.Ignored.
var ignoredKeys = map[string]bool{
	"num_acceptors.tcp": true, "num_acceptors.ssl": true, "socket_writer.gc_threshold": true,
	"reverse_dns_lookups": true, "background_gc_enabled": true, "background_gc_target_interval": true,
	"collect_statistics": true, "hipe_compile": true,
	"vm_memory_calculation_strategy": true, "vm_memory_high_watermark_paging_ratio": true,
	"memory_monitor_interval": true, "mnesia_table_loading_retry_timeout": true,
	"mnesia_table_loading_retry_limit": true, "queue_index_embed_msgs_below": true, "erlang.K": true,
	"delegate_count": true, "default_worker_pool_size": true, "ssl_options.honor_ecc_order": true,
	"ssl_options.secure_renegotiate": true, "ssl_options.client_renegotiation": true,
	"ssl_options.reuse_sessions": true, "ssl_options.log_level": true, "ssl_options.bypass_pem_cache": true,
}

// ignoredKey reports whether key is one Warren accepts and ignores.
func ignoredKey(key string) bool { return ignoredKeys[key] }

// rabbitKey reports whether key is a RabbitMQ setting.
func rabbitKey(key string) bool {
	for _, p := range rabbitPrefixes {
		if strings.HasPrefix(key, p) {
			return true
		}
	}
	segs := strings.Split(key, ".")
	for _, k := range rabbitCoreKeys {
		if strings.Count(k, ".") == len(segs)-1 && matchKey(strings.Split(k, "."), segs) {
			return true
		}
	}
	return false
}

// matchKey reports whether segs matches pattern, where $ matches any word.
func matchKey(pattern, segs []string) bool {
	if len(pattern) != len(segs) {
		return false
	}
	for i, p := range pattern {
		if p != "$" && p != segs[i] {
			return false
		}
	}
	return true
}
