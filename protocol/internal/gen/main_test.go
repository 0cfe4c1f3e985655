package main

import (
	"strings"
	"testing"
)

func TestParseSpec(t *testing.T) {
	s, err := parseSpec(strings.NewReader(`
# a comment
domain queue-name shortstr
constant NOT-FOUND 404 soft-error
class queue 50
  method declare 10 sync   # trailing comment
    field queue queue-name
    field passive bit
  method declare-ok 11
class basic 60
  method publish 40 content
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Domains) != 1 || s.Domains[0] != [2]string{"queue-name", "shortstr"} {
		t.Errorf("domains = %v", s.Domains)
	}
	if len(s.Constants) != 1 || s.Constants[0] != (constant{Name: "NOT-FOUND", Value: 404, Class: "soft-error"}) {
		t.Errorf("constants = %v", s.Constants)
	}
	if len(s.Classes) != 2 || s.Classes[0].ID != 50 || len(s.Classes[0].Methods) != 2 {
		t.Fatalf("classes = %+v", s.Classes)
	}
	d := s.Classes[0].Methods[0]
	if d.Name != "declare" || d.ID != 10 || !d.Synchronous || d.Content || len(d.Arguments) != 2 ||
		d.Arguments[0] != (argument{Name: "queue", Type: "queue-name"}) {
		t.Errorf("queue.declare = %+v", d)
	}
	if p := s.Classes[1].Methods[0]; !p.Content || p.Synchronous {
		t.Errorf("basic.publish = %+v", p)
	}
}

func TestParseSpecRejects(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"unknown declaration", "frame 1", `line 1: unknown declaration "frame"`},
		{"method before class", "method open 10", "line 1: want: method"},
		{"field before method", "class queue 50\nfield queue shortstr", "line 2: want: field"},
		{"bad number", "class queue fifty", `line 1: class: "fifty" is not a number`},
		{"unknown method flag", "class queue 50\nmethod declare 10 async", `line 2: method declare: unknown flag "async"`},
		{"no classes", "domain bit bit", "no classes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseSpec(strings.NewReader(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one containing %q", err, tc.want)
			}
		})
	}
}
