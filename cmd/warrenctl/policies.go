package main

import (
	"encoding/json"
	"net/http"

	"github.com/spf13/cobra"
)

// The policy verbs: set_policy and clear_policy, through
// /api/policies/{vhost}/{name}; list_policies is a listing.

func (c *ctl) policyCommands() []*cobra.Command {
	var priority int
	var applyTo string
	set := &cobra.Command{
		Use:   "set_policy [-p <vhost>] [--priority <priority>] [--apply-to <apply-to>] <name> <pattern> <definition>",
		Short: "Sets or updates a policy",
		Long: "Sets or updates a policy: <pattern> is a regular expression matched against queue and exchange\n" +
			"names, <definition> a JSON object of policy keys; --apply-to is one of all, queues, exchanges,\n" +
			"classic_queues, quorum_queues, streams.",
		Args: argsBetween(3, 3),
		RunE: func(_ *cobra.Command, args []string) error {
			return c.setPolicy(args[0], args[1], args[2], priority, applyTo)
		},
	}
	set.Flags().IntVar(&priority, "priority", 0, "the policy's priority: the highest of those that match applies")
	set.Flags().StringVar(&applyTo, "apply-to", "all", "what the policy applies to")
	return []*cobra.Command{set, {
		Use:   "clear_policy [-p <vhost>] <name>",
		Short: "Clears a policy",
		Args:  argsBetween(1, 1),
		RunE:  func(_ *cobra.Command, args []string) error { return c.clearPolicy(args[0]) },
	}}
}

func (c *ctl) setPolicy(name, pattern, definition string, priority int, applyTo string) error {
	c.banner("Setting policy \"" + name + "\" for pattern \"" + pattern + "\" to \"" + definition +
		"\" with priority \"" + itoa(priority) + "\" for vhost \"" + c.opts.vhost + "\" ...")
	var def map[string]any
	if err := json.Unmarshal([]byte(definition), &def); err != nil {
		return fail(exitDataErr, "Error:\nCould not parse JSON document %q: %v", definition, err)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	body := map[string]any{"pattern": pattern, "definition": json.RawMessage(definition), "priority": priority, "apply-to": applyTo}
	_, err := c.api.call(ctx, request{method: http.MethodPut, path: apiPath("policies", c.opts.vhost, name), body: body},
		func() error { return noSuchVhost(c.opts.vhost) })
	return err
}

func (c *ctl) clearPolicy(name string) error {
	c.banner("Clearing policy \"" + name + "\" on vhost \"" + c.opts.vhost + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodDelete, path: apiPath("policies", c.opts.vhost, name)},
		c.api.vhostOr(ctx, c.opts.vhost, func() error { return fail(exitDataErr, "Error:\nParameter does not exist") }))
	return err
}
