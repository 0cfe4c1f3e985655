package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// row is one object of a listing: its values by column.
type row map[string]any

// banner prints rabbitmqctl's line(s) saying what the verb does, unless
// --quiet or a machine-readable formatter asked for none.
func (c *ctl) banner(lines ...string) {
	if c.opts.quiet || c.opts.formatter == "json" {
		return
	}
	for _, l := range lines {
		fmt.Fprintln(c.out, l)
	}
}

// say prints a verb's closing message, unless --quiet or JSON.
func (c *ctl) say(msg string) {
	c.banner(msg)
}

// printRows prints a listing: aligned columns under a header line (none
// with --no-table-headers), or with --formatter json an array of objects
// with the columns as keys, in the columns' order.
func (c *ctl) printRows(cols []string, rows []row) error {
	if c.opts.formatter == "json" {
		return writeJSONRows(c.out, cols, rows)
	}
	tw := tabwriter.NewWriter(c.out, 0, 8, 2, ' ', 0)
	if !c.opts.noHeaders {
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	for _, r := range rows {
		cells := make([]string, len(cols))
		for i, k := range cols {
			cells[i] = cell(r[k])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

// writeJSONRows writes rows as a JSON array, each object's keys in the
// columns' order (a Go map would sort them).
func writeJSONRows(w io.Writer, cols []string, rows []row) error {
	var b bytes.Buffer
	b.WriteString("[")
	for i, r := range rows {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for j, k := range cols {
			if j > 0 {
				b.WriteString(",")
			}
			key, _ := json.Marshal(k)
			val, err := json.Marshal(r[k])
			if err != nil {
				return fail(exitSoftware, "Error: %v", err)
			}
			b.Write(key)
			b.WriteString(":")
			b.Write(val)
		}
		b.WriteString("}")
	}
	if len(rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

// writeJSON writes one value as indented JSON.
func writeJSON(w io.Writer, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fail(exitSoftware, "Error: %v", err)
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// cell is a value as a table shows it: strings as they are (tabs and
// newlines escaped, so that a row stays one line), lists as
// rabbitmqctl's [a, b], tables as JSON, null as nothing.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.NewReplacer("\t", `\t`, "\n", `\n`, "\r", `\r`).Replace(x)
	case json.Number:
		return x.String()
	case bool:
		return fmt.Sprint(x)
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = cell(e)
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return compactJSON(x)
	}
	return cell(compactJSON(v))
}

// compactJSON is v as one line of JSON, keys sorted; an empty table is
// rabbitmqctl's [].
func compactJSON(v any) string {
	if m, ok := v.(map[string]any); ok && len(m) == 0 {
		return "[]"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}
