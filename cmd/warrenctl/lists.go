package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// A list verb prints one row per object the API lists, with the columns
// (rabbitmqctl's info keys) asked for or the verb's default ones. Each
// column is read from the API's JSON object: most by the same name, some
// from another field (listing.keys).

// getter reads a column's value from an object of the API.
type getter func(obj map[string]any) any

// field reads the value at a path of nested objects.
func field(path ...string) getter {
	return func(obj map[string]any) any {
		var v any = obj
		for _, k := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		}
		return v
	}
}

// constant is a column whose value is the same for every object.
func constant(v any) getter { return func(map[string]any) any { return v } }

// column is an info key and where its value comes from.
type column struct {
	key string
	get getter
}

// col is a column read from the API field of the same name.
func col(key string) column { return column{key, field(key)} }

// listing is a list verb.
type listing struct {
	use, short string
	keys       []column
	defaults   []string
	// path is the API path to list, for the vhost given with -p.
	path func(c *ctl, args []string) string
	// banner is rabbitmqctl's line for the verb.
	banner func(c *ctl, args []string) []string
	// notFound says what a 404 means (nil: the vhost does not exist).
	notFound func(c *ctl, args []string) error
	// fixedArgs are the positional arguments before the columns (a user
	// name for list_user_permissions); columns are taken only when
	// fixedArgs is 0.
	fixedArgs int
}

// command makes the cobra command of a list verb.
func (l listing) command(c *ctl) *cobra.Command {
	maxArgs := -1
	if l.fixedArgs > 0 {
		maxArgs = l.fixedArgs
	}
	keys := make([]string, len(l.keys))
	for i, k := range l.keys {
		keys[i] = k.key
	}
	return &cobra.Command{
		Use:   l.use,
		Short: l.short,
		Long:  l.short + ".\n\nColumns: " + strings.Join(keys, ", ") + ".\nDefault: " + strings.Join(l.defaults, " ") + ".",
		Args:  argsBetween(l.fixedArgs, maxArgs),
		RunE:  func(_ *cobra.Command, args []string) error { return c.list(l, args) },
	}
}

// columns are the info keys asked for, rabbitmqctl's way: separated by
// spaces or commas, each once, every one known.
func (l listing) columns(args []string) ([]column, error) {
	var names []string
	for _, a := range args {
		for _, k := range strings.Split(a, ",") {
			if k = strings.TrimSpace(k); k != "" && !slices.Contains(names, k) {
				names = append(names, k)
			}
		}
	}
	if len(names) == 0 {
		names = l.defaults
	}
	var out []column
	var bad []string
	for _, n := range names {
		i := slices.IndexFunc(l.keys, func(k column) bool { return k.key == n })
		if i < 0 {
			bad = append(bad, n)
			continue
		}
		out = append(out, l.keys[i])
	}
	if len(bad) > 0 {
		return nil, badInfoKeys(bad)
	}
	return out, nil
}

// list runs a list verb.
func (c *ctl) list(l listing, args []string) error {
	var colArgs []string
	if l.fixedArgs == 0 {
		colArgs = args
	}
	cols, err := l.columns(colArgs)
	if err != nil {
		return err
	}
	ctx, cancel := c.ctx()
	defer cancel()
	notFound := func() error { return noSuchVhost(c.opts.vhost) }
	if l.notFound != nil {
		notFound = func() error { return l.notFound(c, args) }
	}
	c.banner(l.banner(c, args)...)
	var objs []map[string]any
	if err := c.api.get(ctx, l.path(c, args), &objs, notFound); err != nil {
		return err
	}
	names := make([]string, len(cols))
	rows := make([]row, len(objs))
	for i, cl := range cols {
		names[i] = cl.key
	}
	for i, o := range objs {
		rows[i] = row{}
		for _, cl := range cols {
			rows[i][cl.key] = cl.get(o)
		}
	}
	return c.printRows(names, rows)
}

// vhostPath lists a resource of -p's vhost.
func vhostPath(resource string) func(c *ctl, _ []string) string {
	return func(c *ctl, _ []string) string { return apiPath(resource, c.opts.vhost) }
}

// fixedPath lists a resource of every vhost.
func fixedPath(path string) func(*ctl, []string) string {
	return func(*ctl, []string) string { return path }
}

// fixedBanner is a banner that names nothing.
func fixedBanner(text string) func(*ctl, []string) []string {
	return func(*ctl, []string) []string { return []string{text} }
}

// cols makes columns read from fields of the same names.
func cols(keys ...string) []column {
	out := make([]column, len(keys))
	for i, k := range keys {
		out[i] = col(k)
	}
	return out
}

// listings are the list verbs with rabbitmqctl's info keys (those the
// API can answer), defaults and banners. Warren has no Erlang processes:
// the pid columns hold the connection's or channel's name, which is what
// close_connection takes.
func listings() []listing {
	return []listing{
		{
			use: "list_queues [-p <vhost>] [<column> ...]", short: "Lists queues and their properties",
			keys: append(cols("name", "durable", "auto_delete", "exclusive", "arguments", "policy", "messages",
				"messages_ready", "messages_unacknowledged", "consumers", "type", "state", "node", "members"),
				column{"exclusive_consumer_tag", field("exclusive_consumer_tag")}),
			defaults: []string{"name", "messages"}, path: vhostPath("queues"),
			banner: func(c *ctl, _ []string) []string {
				return []string{fmt.Sprintf("Timeout: %.1f seconds ...", c.opts.timeout.Seconds()),
					"Listing queues for vhost " + c.opts.vhost + " ..."}
			},
		},
		{
			use: "list_exchanges [-p <vhost>] [<column> ...]", short: "Lists exchanges",
			keys:     cols("name", "type", "durable", "auto_delete", "internal", "arguments", "policy"),
			defaults: []string{"name", "type"}, path: vhostPath("exchanges"),
			banner: func(c *ctl, _ []string) []string {
				return []string{"Listing exchanges for vhost " + c.opts.vhost + " ..."}
			},
		},
		{
			use: "list_bindings [-p <vhost>] [<column> ...]", short: "Lists all bindings on a vhost",
			keys: []column{{"source_name", field("source")}, {"source_kind", constant("exchange")},
				{"destination_name", field("destination")}, {"destination_kind", field("destination_type")},
				col("routing_key"), col("arguments")},
			defaults: []string{"source_name", "source_kind", "destination_name", "destination_kind", "routing_key", "arguments"},
			path:     vhostPath("bindings"),
			banner: func(c *ctl, _ []string) []string {
				return []string{"Listing bindings for vhost " + c.opts.vhost + "..."}
			},
		},
		{
			use: "list_connections [<column> ...]", short: "Lists AMQP 0.9.1 connections for the node",
			keys: append([]column{{"pid", field("name")}}, cols("name", "port", "host", "peer_port", "peer_host", "ssl",
				"state", "channels", "protocol", "user", "vhost", "timeout", "frame_max", "channel_max",
				"client_properties", "connected_at", "node", "user_provided_name")...),
			defaults: []string{"user", "peer_host", "peer_port", "state"},
			path:     fixedPath(apiPath("connections")), banner: fixedBanner("Listing connections ..."),
		},
		{
			use: "list_channels [<column> ...]", short: "Lists all channels in the node",
			keys: append([]column{{"pid", field("name")}, {"connection", field("connection_details", "name")}},
				cols("name", "number", "user", "vhost", "consumer_count", "messages_unacknowledged",
					"prefetch_count", "global_prefetch_count", "state", "node")...),
			defaults: []string{"pid", "user", "consumer_count", "messages_unacknowledged"},
			path:     fixedPath(apiPath("channels")), banner: fixedBanner("Listing channels ..."),
		},
		{
			use: "list_consumers [-p <vhost>] [<column> ...]", short: "Lists all consumers for a vhost",
			keys: append([]column{{"queue_name", field("queue", "name")}, {"channel_pid", field("channel_details", "name")}},
				cols("consumer_tag", "ack_required", "prefetch_count", "active", "activity_status", "arguments", "exclusive")...),
			defaults: []string{"queue_name", "channel_pid", "consumer_tag", "ack_required", "prefetch_count", "active", "arguments"},
			path:     vhostPath("consumers"),
			banner: func(c *ctl, _ []string) []string {
				return []string{"Listing consumers on vhost " + c.opts.vhost + " ..."}
			},
		},
		{
			use: "list_users [<column> ...]", short: "List user names and tags",
			keys:     []column{{"user", field("name")}, col("tags")},
			defaults: []string{"user", "tags"},
			path:     fixedPath(apiPath("users")), banner: fixedBanner("Listing users ..."),
		},
		{
			use: "list_vhosts [<column> ...]", short: "Lists virtual hosts",
			keys:     append(cols("name", "tracing", "description", "tags", "default_queue_type"), column{"state", constant("running")}),
			defaults: []string{"name"},
			path:     fixedPath(apiPath("vhosts")), banner: fixedBanner("Listing vhosts ..."),
		},
		{
			use: "list_permissions [-p <vhost>] [<column> ...]", short: "Lists user permissions in a virtual host",
			keys:     cols("user", "configure", "write", "read"),
			defaults: []string{"user", "configure", "write", "read"},
			path:     func(c *ctl, _ []string) string { return apiPath("vhosts", c.opts.vhost, "permissions") },
			banner: func(c *ctl, _ []string) []string {
				return []string{"Listing permissions for vhost \"" + c.opts.vhost + "\" ..."}
			},
		},
		{
			use: "list_user_permissions <username>", short: "Lists permissions of a user across all virtual hosts",
			keys:     cols("vhost", "configure", "write", "read"),
			defaults: []string{"vhost", "configure", "write", "read"}, fixedArgs: 1,
			path: func(_ *ctl, args []string) string { return apiPath("users", args[0], "permissions") },
			banner: func(_ *ctl, args []string) []string {
				return []string{"Listing permissions for user \"" + args[0] + "\" ..."}
			},
			notFound: func(_ *ctl, args []string) error { return noSuchUser(args[0]) },
		},
		{
			use: "list_policies [-p <vhost>] [<column> ...]", short: "Lists all policies in a virtual host",
			keys:     cols("vhost", "name", "pattern", "apply-to", "definition", "priority"),
			defaults: []string{"vhost", "name", "pattern", "apply-to", "definition", "priority"},
			path:     vhostPath("policies"),
			banner: func(c *ctl, _ []string) []string {
				return []string{"Listing policies for vhost \"" + c.opts.vhost + "\" ..."}
			},
		},
	}
}
