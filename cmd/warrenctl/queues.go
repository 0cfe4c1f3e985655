package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
)

// The queue and connection verbs: purge_queue, delete_queue,
// close_connection.

func (c *ctl) queueCommands() []*cobra.Command {
	var ifEmpty, ifUnused bool
	del := &cobra.Command{
		Use:   "delete_queue [-p <vhost>] <queue_name> [--if-empty|-e] [--if-unused|-u]",
		Short: "Deletes a queue",
		Args:  argsBetween(1, 1),
		RunE:  func(_ *cobra.Command, args []string) error { return c.deleteQueue(args[0], ifEmpty, ifUnused) },
	}
	del.Flags().BoolVarP(&ifEmpty, "if-empty", "e", false, "delete the queue only if it is empty")
	del.Flags().BoolVarP(&ifUnused, "if-unused", "u", false, "delete the queue only if it has no consumers")
	return []*cobra.Command{
		{
			Use:   "purge_queue [-p <vhost>] <queue>",
			Short: "Purges a queue (removes all messages in it)",
			Args:  argsBetween(1, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.purgeQueue(args[0]) },
		},
		del,
		{
			Use:   "close_connection <connection name> <explanation>",
			Short: "Closes a connection (named as list_connections name shows it), with 320 CONNECTION_FORCED and the explanation",
			Args:  argsBetween(2, 2),
			RunE:  func(_ *cobra.Command, args []string) error { return c.closeConnection(args[0], args[1]) },
		},
	}
}

// queueNotFound is rabbitmqctl's answer for a queue that does not exist
// (and Virtual host … for a vhost that does not).
func (c *ctl) queueNotFound() error {
	return fail(exitUsage, "Error:\nQueue not found")
}

func (c *ctl) purgeQueue(name string) error {
	c.banner("Purging queue '" + name + "' in vhost '" + c.opts.vhost + "' ...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodDelete, path: apiPath("queues", c.opts.vhost, name, "contents")},
		c.api.vhostOr(ctx, c.opts.vhost, c.queueNotFound))
	return err
}

// deleteQueue deletes a queue and says how many messages it had (as the
// API read them just before the delete).
func (c *ctl) deleteQueue(name string, ifEmpty, ifUnused bool) error {
	var cond []string
	if ifEmpty {
		cond = append(cond, "if queue is empty ")
	}
	if ifUnused {
		cond = append(cond, "if queue is unused ")
	}
	c.banner("Deleting queue '" + name + "' on vhost '" + c.opts.vhost + "' " + strings.Join(cond, "and ") + "...")
	ctx, cancel := c.ctx()
	defer cancel()
	path := apiPath("queues", c.opts.vhost, name)
	var q struct {
		Messages json.Number `json:"messages"`
	}
	if err := c.api.get(ctx, path, &q, c.api.vhostOr(ctx, c.opts.vhost, c.queueNotFound)); err != nil {
		return err
	}
	query := url.Values{}
	if ifEmpty {
		query.Set("if-empty", "true")
	}
	if ifUnused {
		query.Set("if-unused", "true")
	}
	if len(query) > 0 {
		path += "?" + query.Encode()
	}
	resp, err := c.api.do(ctx, request{method: http.MethodDelete, path: path})
	switch {
	case err != nil:
		return err
	case resp.status == http.StatusNotFound:
		return c.queueNotFound()
	case resp.status == http.StatusBadRequest && strings.Contains(resp.reason(), "not empty"):
		return fail(exitUsage, "Error:\nQueue is not empty")
	case resp.status == http.StatusBadRequest && strings.Contains(resp.reason(), "in use"):
		return fail(exitUsage, "Error:\nQueue is in use")
	case !resp.ok():
		return c.api.failure(resp, nil)
	}
	n := q.Messages.String()
	if n == "" {
		n = "0"
	}
	if c.opts.formatter == "json" {
		count, _ := strconv.ParseInt(n, 10, 64)
		return writeJSON(c.out, map[string]any{"result": "ok", "message_count": count})
	}
	c.say("Queue was successfully deleted with " + n + " messages")
	return nil
}

func (c *ctl) closeConnection(name, explanation string) error {
	if strings.ContainsAny(explanation, "\r\n\x00") {
		return badArgument("the explanation must be one line")
	}
	c.banner("Closing connection " + name + ", reason: " + explanation + "...")
	ctx, cancel := c.ctx()
	defer cancel()
	_, err := c.api.call(ctx, request{method: http.MethodDelete, path: apiPath("connections", name),
		header: map[string]string{"X-Reason": explanation}},
		func() error { return fail(exitDataErr, "Error:\nConnection %q does not exist", name) })
	return err
}

// itoa is strconv.Itoa, for banners.
func itoa(n int) string { return strconv.Itoa(n) }
