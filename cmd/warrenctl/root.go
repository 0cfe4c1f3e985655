package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// options are the connection and output flags every verb takes.
type options struct {
	url, username, password string
	vhost                   string
	timeout                 time.Duration
	formatter               string
	quiet, noHeaders        bool
	cacert                  string
	insecure                bool
}

// ctl runs one invocation: the flags, the streams and the API client.
type ctl struct {
	opts   options
	in     io.Reader
	out    io.Writer
	errOut io.Writer
	api    *client
}

// run executes warrenctl with args and returns its exit status; getenv
// gives the environment's defaults for the connection flags.
func run(args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	c := &ctl{in: stdin, out: stdout, errOut: stderr}
	root := c.rootCommand(getenv)
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	cmd, err := root.ExecuteC()
	if c.api != nil {
		c.api.close()
	}
	return c.report(cmd, args, err)
}

// report prints a failure as rabbitmqctl does and returns the exit
// status.
func (c *ctl) report(cmd *cobra.Command, args []string, err error) int {
	if err == nil {
		return exitOK
	}
	var ce *cliError
	if errors.As(err, &ce) {
		if ce.msg != "" {
			fmt.Fprintln(c.errOut, ce.msg)
		}
		return ce.code
	}
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.errOut, "Error (argument validation): %s\nArguments given:\n\t%s\n\nUsage:\n\n%s\n",
			ue.detail, strings.Join(args, " "), cmd.UseLine())
		return ue.code
	}
	// cobra's own: an unknown verb or flag, a flag's bad value.
	fmt.Fprintf(c.errOut, "Error: %v\nRun '%s --help' for usage.\n", err, cmd.CommandPath())
	return exitUsage
}

// envOr is the environment variable's value, or def when it is unset.
func envOr(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// rootCommand builds warrenctl's command tree.
func (c *ctl) rootCommand(getenv func(string) string) *cobra.Command {
	root := &cobra.Command{
		Use:   "warrenctl",
		Short: "Manage a Warren node over its HTTP management API, with rabbitmqctl's verbs",
		Long: "warrenctl manages a Warren node (or a RabbitMQ node with the management plugin) over the\n" +
			"HTTP management API, with rabbitmqctl's verbs, arguments and columns.",
		Args:              cobra.NoArgs,
		SilenceErrors:     true,
		SilenceUsage:      true,
		PersistentPreRunE: c.connect,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(c.errOut)
			cmd.Help()
			return &cliError{code: exitUsage, msg: ""}
		},
	}
	root.CompletionOptions.DisableDefaultCmd = true
	// rabbitmqctl spells some flags with underscores (--if_empty,
	// --no_table_headers): both spellings are accepted.
	root.SetGlobalNormalizationFunc(func(_ *pflag.FlagSet, name string) pflag.NormalizedName {
		return pflag.NormalizedName(strings.ReplaceAll(name, "_", "-"))
	})
	f := root.PersistentFlags()
	f.StringVar(&c.opts.url, "url", envOr(getenv, "WARRENCTL_URL", "http://127.0.0.1:15672"), "the management API's URL (env WARRENCTL_URL)")
	f.StringVar(&c.opts.username, "username", envOr(getenv, "WARRENCTL_USERNAME", "guest"), "the user to log in as (env WARRENCTL_USERNAME)")
	f.StringVar(&c.opts.password, "password", envOr(getenv, "WARRENCTL_PASSWORD", "guest"), "its password (env WARRENCTL_PASSWORD)")
	f.StringVarP(&c.opts.vhost, "vhost", "p", "/", "the virtual host")
	c.opts.timeout = 60 * time.Second
	f.VarP((*secondsValue)(&c.opts.timeout), "timeout", "t", "how long to wait for the API: seconds, or a duration such as 1m30s")
	f.StringVar(&c.opts.formatter, "formatter", "table", "output format: table or json")
	f.BoolVarP(&c.opts.quiet, "quiet", "q", false, "print no banner or closing message")
	f.BoolVar(&c.opts.noHeaders, "no-table-headers", false, "print no header line above a table")
	f.StringVar(&c.opts.cacert, "cacert", "", "PEM file of the CAs that sign an https:// API's certificate")
	f.BoolVar(&c.opts.insecure, "insecure", false, "do not verify an https:// API's certificate")
	c.addCommands(root)
	return root
}

// connect checks the output flags and makes the API client before any
// verb runs.
func (c *ctl) connect(cmd *cobra.Command, _ []string) error {
	if c.opts.formatter != "table" && c.opts.formatter != "json" {
		return &usageError{exitUsage, fmt.Sprintf("--formatter %q is not one of table, json", c.opts.formatter)}
	}
	if c.opts.timeout <= 0 {
		return &usageError{exitUsage, "--timeout must be positive"}
	}
	api, err := newClient(&c.opts)
	if err != nil {
		return err
	}
	c.api = api
	return nil
}

// ctx bounds a verb's requests by --timeout.
func (c *ctl) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), c.opts.timeout)
}

// secondsValue is --timeout: whole seconds as rabbitmqctl's -t, or a Go
// duration.
type secondsValue time.Duration

func (s *secondsValue) String() string { return time.Duration(*s).String() }
func (s *secondsValue) Type() string   { return "seconds" }

func (s *secondsValue) Set(v string) error {
	if n, err := strconv.ParseFloat(v, 64); err == nil {
		*s = secondsValue(time.Duration(n * float64(time.Second)))
		return nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return fmt.Errorf("%q is not a number of seconds or a duration", v)
	}
	*s = secondsValue(d)
	return nil
}

// argsBetween accepts min to max positional arguments (max < 0: no
// limit), refusing others as rabbitmqctl does.
func argsBetween(min, max int) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		switch {
		case len(args) < min:
			return notEnoughArgs()
		case max >= 0 && len(args) > max:
			return tooManyArgs()
		}
		return nil
	}
}
