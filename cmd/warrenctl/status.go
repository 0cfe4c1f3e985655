package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// status and cluster_status: the node and the cluster as /api/overview
// and /api/nodes describe them, in rabbitmqctl's sections.

func (c *ctl) statusCommands() []*cobra.Command {
	return []*cobra.Command{
		{
			Use:   "status",
			Short: "Displays status of a node",
			Args:  argsBetween(0, 0),
			RunE:  func(*cobra.Command, []string) error { return c.status() },
		},
		{
			Use:   "cluster_status",
			Short: "Displays all the nodes in the cluster grouped by node type, together with the currently running nodes",
			Args:  argsBetween(0, 0),
			RunE:  func(*cobra.Command, []string) error { return c.clusterStatus() },
		},
	}
}

// overview is what status and cluster_status read of /api/overview.
type overview struct {
	Node            string `json:"node"`
	ClusterName     string `json:"cluster_name"`
	ProductName     string `json:"product_name"`
	ProductVersion  string `json:"product_version"`
	RabbitMQVersion string `json:"rabbitmq_version"`
	ObjectTotals    struct {
		Connections json.Number `json:"connections"`
		Queues      json.Number `json:"queues"`
		Channels    json.Number `json:"channels"`
		Consumers   json.Number `json:"consumers"`
		Exchanges   json.Number `json:"exchanges"`
	} `json:"object_totals"`
	Listeners []listener `json:"listeners"`
}

// listener is one of a node's listeners.
type listener struct {
	Node      string      `json:"node"`
	Protocol  string      `json:"protocol"`
	Interface string      `json:"ip_address"`
	Port      json.Number `json:"port"`
}

// purpose is rabbitmqctl's description of a listener's protocol.
func (l listener) purpose() string {
	switch l.Protocol {
	case "amqp":
		return "AMQP 0-9-1 and AMQP 1.0"
	case "amqp/ssl":
		return "AMQP 0-9-1 and AMQP 1.0 over TLS"
	case "http":
		return "HTTP API"
	case "https":
		return "HTTP API over TLS (HTTPS)"
	}
	return l.Protocol
}

func (l listener) line() string {
	return fmt.Sprintf("Interface: %s, port: %s, protocol: %s, purpose: %s", l.Interface, l.Port, l.Protocol, l.purpose())
}

func (l listener) jsonItem() map[string]any {
	return map[string]any{"node": l.Node, "interface": l.Interface, "port": l.Port, "protocol": l.Protocol, "purpose": l.purpose()}
}

// node is what cluster_status reads of /api/nodes.
type node struct {
	Name          string      `json:"name"`
	Type          string      `json:"type"`
	Running       bool        `json:"running"`
	MemAlarm      bool        `json:"mem_alarm"`
	DiskFreeAlarm bool        `json:"disk_free_alarm"`
	MemLimit      json.Number `json:"mem_limit"`
	DiskFreeLimit json.Number `json:"disk_free_limit"`
}

// alarms are the node's alarms as rabbitmqctl names their resources.
func (n node) alarms() []string {
	var out []string
	if n.MemAlarm {
		out = append(out, "memory")
	}
	if n.DiskFreeAlarm {
		out = append(out, "disk")
	}
	return out
}

// alarmLine is rabbitmqctl's line for an alarm.
func alarmLine(node, resource string) string {
	if resource == "disk" {
		return "Free disk space alarm on node " + node
	}
	return "Memory alarm on node " + node
}

// section prints a titled block of lines, "(none)" when empty.
func (c *ctl) section(title string, lines []string) {
	if len(lines) == 0 {
		lines = []string{"(none)"}
	}
	fmt.Fprintf(c.out, "%s\n\n%s\n\n", title, strings.Join(lines, "\n"))
}

// fetchOverview reads the overview and the nodes.
func (c *ctl) fetchOverview(ctx context.Context) (overview, []node, error) {
	var ov overview
	if err := c.api.get(ctx, apiPath("overview"), &ov, nil); err != nil {
		return ov, nil, err
	}
	var nodes []node
	err := c.api.get(ctx, apiPath("nodes"), &nodes, nil)
	return ov, nodes, err
}

func (c *ctl) status() error {
	ctx, cancel := c.ctx()
	defer cancel()
	ov, nodes, err := c.fetchOverview(ctx)
	if err != nil {
		return err
	}
	var vhosts []json.RawMessage
	if err := c.api.get(ctx, apiPath("vhosts"), &vhosts, nil); err != nil {
		return err
	}
	var self node
	for _, n := range nodes {
		if n.Name == ov.Node {
			self = n
		}
	}
	c.banner("Status of node " + ov.Node + " ...")
	var listeners []map[string]any
	var listenerLines, alarmLines []string
	for _, l := range ov.Listeners {
		listeners = append(listeners, l.jsonItem())
		listenerLines = append(listenerLines, l.line())
	}
	alarms := []map[string]string{}
	for _, a := range self.alarms() {
		alarms = append(alarms, map[string]string{"node": self.Name, "resource": a})
		alarmLines = append(alarmLines, alarmLine(self.Name, a))
	}
	if c.opts.formatter == "json" {
		return writeJSON(c.out, map[string]any{
			"node": ov.Node, "product_name": ov.ProductName, "product_version": ov.ProductVersion,
			"rabbitmq_version": ov.RabbitMQVersion, "alarms": alarms, "listeners": listeners,
			"vm_memory_high_watermark_limit": self.MemLimit, "disk_free_limit": self.DiskFreeLimit,
			"totals": map[string]any{"connection_count": ov.ObjectTotals.Connections, "queue_count": ov.ObjectTotals.Queues,
				"virtual_host_count": len(vhosts)},
		})
	}
	c.section("Basics", []string{"Node name: " + ov.Node, "Cluster name: " + ov.ClusterName})
	c.section("Runtime", []string{"Product name: " + ov.ProductName, "Product version: " + ov.ProductVersion,
		"RabbitMQ version: " + ov.RabbitMQVersion})
	c.section("Alarms", alarmLines)
	c.section("Memory", []string{"Memory high watermark limit: " + self.MemLimit.String() + " bytes"})
	c.section("Free Disk Space", []string{"Low free disk space watermark: " + self.DiskFreeLimit.String() + " bytes"})
	c.section("Totals", []string{"Connection count: " + ov.ObjectTotals.Connections.String(),
		"Queue count: " + ov.ObjectTotals.Queues.String(), fmt.Sprintf("Virtual host count: %d", len(vhosts))})
	c.section("Listeners", listenerLines)
	return nil
}

func (c *ctl) clusterStatus() error {
	ctx, cancel := c.ctx()
	defer cancel()
	ov, nodes, err := c.fetchOverview(ctx)
	if err != nil {
		return err
	}
	c.banner("Cluster status of node " + ov.Node + " ...")
	disk, running := []string{}, []string{}
	alarms := []map[string]string{}
	var alarmLines []string
	for _, n := range nodes {
		disk = append(disk, n.Name)
		if n.Running {
			running = append(running, n.Name)
		}
		for _, a := range n.alarms() {
			alarms = append(alarms, map[string]string{"node": n.Name, "resource": a})
			alarmLines = append(alarmLines, alarmLine(n.Name, a))
		}
	}
	listeners := map[string][]map[string]any{}
	var listenerLines []string
	for _, l := range ov.Listeners {
		listeners[l.Node] = append(listeners[l.Node], l.jsonItem())
		listenerLines = append(listenerLines, "Node: "+l.Node+", i"+strings.TrimPrefix(l.line(), "I"))
	}
	if c.opts.formatter == "json" {
		return writeJSON(c.out, map[string]any{"cluster_name": ov.ClusterName, "disk_nodes": disk, "ram_nodes": []string{},
			"running_nodes": running, "alarms": alarms, "partitions": map[string]any{}, "listeners": listeners})
	}
	c.section("Basics", []string{"Cluster name: " + ov.ClusterName})
	c.section("Disk Nodes", disk)
	c.section("Running Nodes", running)
	c.section("Alarms", alarmLines)
	c.section("Network Partitions", nil)
	c.section("Listeners", listenerLines)
	return nil
}
