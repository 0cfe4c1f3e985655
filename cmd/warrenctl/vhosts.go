package main

import (
	"context"
	"net/http"

	"github.com/spf13/cobra"
)

// The vhost and permission verbs: add_vhost, delete_vhost,
// set_permissions, clear_permissions, through /api/vhosts and
// /api/permissions.

func (c *ctl) vhostCommands() []*cobra.Command {
	var description, tags, queueType string
	add := &cobra.Command{
		Use:   "add_vhost <vhost> [--description <description>] [--tags \"<tag1>,<tag2>\"] [--default-queue-type <classic|quorum>]",
		Short: "Creates a virtual host",
		Args:  argsBetween(1, 1),
		RunE: func(_ *cobra.Command, args []string) error {
			return c.addVhost(args[0], map[string]any{"description": description, "tags": tags, "default_queue_type": queueType})
		},
	}
	add.Flags().StringVar(&description, "description", "", "a description of the vhost")
	add.Flags().StringVar(&tags, "tags", "", "comma-separated tags")
	add.Flags().StringVar(&queueType, "default-queue-type", "", "the queue type of queues declared without x-queue-type")
	return []*cobra.Command{
		add,
		{
			Use:   "delete_vhost <vhost>",
			Short: "Deletes a virtual host",
			Args:  argsBetween(1, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.deleteVhost(args[0]) },
		},
		{
			Use:   "set_permissions [-p <vhost>] <username> <conf> <write> <read>",
			Short: "Sets user permissions for a vhost",
			Args:  argsBetween(4, 4),
			RunE:  func(_ *cobra.Command, args []string) error { return c.setPermissions(args) },
		},
		{
			Use:   "clear_permissions [-p <vhost>] <username>",
			Short: "Revokes user permissions for a vhost",
			Args:  argsBetween(1, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.clearPermissions(args[0]) },
		},
	}
}

func (c *ctl) addVhost(name string, body map[string]any) error {
	if name == "" {
		return badArgument("vhost cannot be an empty string")
	}
	for k, v := range body {
		if v == "" {
			delete(body, k)
		}
	}
	c.banner("Adding vhost \"" + name + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodPut, path: apiPath("vhosts", name), body: body}, nil)
	return err
}

func (c *ctl) deleteVhost(name string) error {
	c.banner("Deleting vhost \"" + name + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodDelete, path: apiPath("vhosts", name)},
		func() error { return noSuchVhost(name) })
	return err
}

// missingUserOrVhost fails as rabbitmqctl does when the user or -p's
// vhost does not exist; nil when both do.
func (c *ctl) missingUserOrVhost(ctx context.Context, user string) error {
	found, err := c.api.exists(ctx, apiPath("users", user))
	if err != nil || !found {
		return cmpOr(err, noSuchUser(user))
	}
	found, err = c.api.exists(ctx, apiPath("vhosts", c.opts.vhost))
	if err != nil || !found {
		return cmpOr(err, noSuchVhost(c.opts.vhost))
	}
	return nil
}

// cmpOr is err, or def when err is nil.
func cmpOr(err, def error) error {
	if err != nil {
		return err
	}
	return def
}

func (c *ctl) setPermissions(args []string) error {
	user := args[0]
	c.banner("Setting permissions for user \"" + user + "\" in vhost \"" + c.opts.vhost + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	body := map[string]string{"configure": args[1], "write": args[2], "read": args[3]}
	resp, err := c.api.do(ctx, request{method: http.MethodPut, path: apiPath("permissions", c.opts.vhost, user), body: body})
	switch {
	case err != nil:
		return err
	case resp.ok():
		return nil
	case resp.status == http.StatusBadRequest && resp.reason() == "vhost_or_user_not_found":
		if err := c.missingUserOrVhost(ctx, user); err != nil {
			return err
		}
	}
	return c.api.failure(resp, nil)
}

// clearPermissions revokes a user's permissions; a user without any keeps
// none, as in RabbitMQ, and a missing user or vhost is an error.
func (c *ctl) clearPermissions(user string) error {
	c.banner("Clearing permissions for user \"" + user + "\" in vhost \"" + c.opts.vhost + "\" ...")
	ctx, cancel := c.ctx()
	defer cancel()
	resp, err := c.api.do(ctx, request{method: http.MethodDelete, path: apiPath("permissions", c.opts.vhost, user)})
	switch {
	case err != nil:
		return err
	case resp.ok():
		return nil
	case resp.status != http.StatusNotFound:
		return c.api.failure(resp, nil)
	}
	return c.missingUserOrVhost(ctx, user)
}
