package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/warrenmq/warren/broker"
)

// `warren definitions export` writes a running node's definitions as a
// RabbitMQ definitions document (JSON), as rabbitmqctl export_definitions:
// a single node is asked over the admin socket in its data dir
// (DATA_DIR/admin.sock, open to the node's OS user only), a cluster node
// over its cluster port with the cluster secret.
//
//	warren definitions export [--data-dir DIR] [FILE]
//	warren definitions export --cluster-addr ADDR [FILE]

const definitionsUsage = `usage: warren definitions export [flags] [FILE]

Writes a running node's definitions (users with password hashes, vhosts,
permissions, topic permissions, parameters, policies, queues, exchanges,
bindings) as RabbitMQ's definitions JSON to FILE, or to standard output.
Load them with --load-definitions (load_definitions) on another node.

  --data-dir DIR       a single node's data dir, whose admin socket to ask
                       (default ./data, env WARREN_DATA_DIR)
  --cluster-addr ADDR  ask a cluster node over its cluster port instead, with
                       the secret in WARREN_CLUSTER_SECRET (or --cluster-secret)
`

// definitionsTimeout bounds one export.
const definitionsTimeout = 30 * time.Second

// runDefinitions runs `warren definitions` with args (after
// "definitions") and returns the exit status: 0 done, 1 failed, 2 usage.
func runDefinitions(args []string, env func(string) (string, bool), stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "export" {
		fmt.Fprint(stderr, definitionsUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	get := func(key, def string) string {
		if v, ok := env(key); ok {
			return v
		}
		return def
	}
	fs := flag.NewFlagSet("warren definitions export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dataDir := fs.String("data-dir", get("WARREN_DATA_DIR", "./data"), "a single node's data dir (env WARREN_DATA_DIR)")
	addr := fs.String("cluster-addr", "", "a cluster node's cluster address (host:port)")
	secret := fs.String("cluster-secret", get("WARREN_CLUSTER_SECRET", ""), "the cluster's secret (env WARREN_CLUSTER_SECRET)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() > 1 {
		fmt.Fprint(stderr, definitionsUsage)
		return 2
	}
	ctx, cancel := context.WithTimeout(context.Background(), definitionsTimeout)
	defer cancel()
	var doc []byte
	var err error
	if *addr != "" {
		doc, err = broker.AdminClient{Addr: *addr, Secret: *secret}.ExportDefinitions(ctx)
	} else {
		doc, err = broker.ExportDefinitionsFrom(ctx, *dataDir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "warren definitions export: %v\n", err)
		return 1
	}
	doc = append(doc, '\n')
	if fs.NArg() == 1 {
		err = os.WriteFile(fs.Arg(0), doc, 0o600)
	} else {
		_, err = stdout.Write(doc)
	}
	if err != nil {
		fmt.Fprintf(stderr, "warren definitions export: %v\n", err)
		return 1
	}
	return 0
}
