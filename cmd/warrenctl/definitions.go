package main

import (
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"syscall"

	"github.com/spf13/cobra"
)

// The definitions verbs: export_definitions and import_definitions,
// through /api/definitions.

func (c *ctl) definitionCommands() []*cobra.Command {
	return []*cobra.Command{
		{
			Use:   "export_definitions <file_path | \"-\">",
			Short: "Exports definitions in JSON to a file, or to standard output with -",
			Args:  argsBetween(1, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.exportDefinitions(args[0]) },
		},
		{
			Use:   "import_definitions [<file_path | \"-\">]",
			Short: "Imports definitions in JSON from a file, or from standard input with - or no argument",
			Args:  argsBetween(0, 1),
			RunE:  func(_ *cobra.Command, args []string) error { return c.importDefinitions(args) },
		},
	}
}

func (c *ctl) exportDefinitions(path string) error {
	if path != "-" {
		if dir := filepath.Dir(path); !isDir(dir) {
			return badArgument("Directory %s does not exist", dir)
		}
		c.banner("Exporting definitions in JSON to a file at \"" + path + "\" ...")
	}
	ctx, cancel := c.ctx()
	defer cancel()
	resp, err := c.api.call(ctx, request{method: http.MethodGet, path: apiPath("definitions")}, nil)
	if err != nil {
		return err
	}
	if !json.Valid(resp.body) {
		return fail(exitSoftware, "Error: the exported definitions are not JSON")
	}
	if path == "-" {
		_, err := c.out.Write(append(resp.body, '\n'))
		return err
	}
	if err := os.WriteFile(path, resp.body, 0o600); err != nil {
		return fileError("write to", path, err)
	}
	return nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// fileError is rabbitmqctl's text for a file that cannot be read or
// written.
func fileError(verb, path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fail(exitDataErr, "Error: Parent directory or file %s does not exist", path)
	case errors.Is(err, fs.ErrPermission):
		return fail(exitDataErr, "Error: No permissions to %s file %s or its parent directory", verb, path)
	case errors.Is(err, syscall.EISDIR):
		return fail(exitDataErr, "Error: Path %s is a directory", path)
	}
	return fail(exitDataErr, "Error: Could not %s file %s: %v", verb, path, err)
}

// readDefinitions reads the document to import, bounded by maxBody.
func (c *ctl) readDefinitions(args []string) ([]byte, string, error) {
	if len(args) == 0 || args[0] == "-" {
		c.banner("Importing definitions in JSON from standard input ...")
		doc, err := io.ReadAll(io.LimitReader(c.in, maxBody+1))
		if err != nil {
			return nil, "", fail(exitDataErr, "Error: reading standard input: %v", err)
		}
		return doc, "standard input", nil
	}
	path := args[0]
	c.banner("Importing definitions in JSON from a file at \"" + path + "\" ...")
	f, err := os.Open(path)
	if err != nil {
		return nil, "", fileError("read from", path, err)
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, maxBody+1))
	if err != nil {
		return nil, "", fileError("read from", path, err)
	}
	return doc, "file " + path, nil
}

func (c *ctl) importDefinitions(args []string) error {
	doc, source, err := c.readDefinitions(args)
	if err != nil {
		return err
	}
	switch {
	case len(doc) == 0:
		return fail(exitDataErr, "Error: %s is zero-sized", source)
	case len(doc) > maxBody:
		return fail(exitDataErr, "Error: %s is larger than %d bytes", source, maxBody)
	}
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(doc, &probe); err != nil {
		return fail(exitDataErr, "Error: Failed to deserialise input (format: JSON) (error: %v)", err)
	}
	ctx, cancel := c.ctx()
	defer cancel()
	if _, err := c.api.call(ctx, request{method: http.MethodPost, path: apiPath("definitions"), body: doc}, nil); err != nil {
		return err
	}
	c.say("Successfully imported definitions.")
	return nil
}
