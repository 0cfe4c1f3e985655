package main

import (
	"context"
	"slices"
	"testing"
	"time"
)

func TestBadFlagsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{"--exchange-type", "x-delayed"},
		{"--queue-args", "novalue"},
		{"--no-such-flag"},
		{"stray"},
		{"--uri", "http://127.0.0.1:1/"},
		{"--publish-url", "http://127.0.0.1:1/"},
		{"--consume-url", "127.0.0.1:1"},
		{"--declare-url", "amqp//127.0.0.1:1/"},
		{"--broker-pid", "12,x"},
		{"--broker-pid", "0"},
		{"--reconnect"},
		{"--kill-pid", "12"},
		{"--kill-after", "1s"},
		{"--kill-pid", "12", "--kill-after", "20s", "--duration", "10s", "--confirm", "10"},
		{"--kill-pid", "12", "--kill-after", "1s", "--broker-pid", "11,12"},
	} {
		if code := runMain(context.Background(), args); code != 2 {
			t.Errorf("warren-perf %v exited %d, want 2", args, code)
		}
	}
	for _, args := range [][]string{
		{"--uri", "amqp://127.0.0.1:1/"},
		{"--queue", "q", "--uri", "http://127.0.0.1:1/"},
		{"--queue", "q", "--timeout", "0s"},
		{"--queue", "q", "stray"},
	} {
		if code := readyMain(context.Background(), time.Now(), args); code != 2 {
			t.Errorf("warren-perf ready %v exited %d, want 2", args, code)
		}
	}
	if code := suiteMain(context.Background(), []string{"--scenarios", "no-such-scenario", "--out", t.TempDir()}); code != 2 {
		t.Errorf("suite with an unknown scenario exited %d, want 2", code)
	}
}

func TestListFlagTakesRepeatsAndCommas(t *testing.T) {
	var l listFlag
	for _, v := range []string{"amqp://a/", "amqp://b/, amqp://c/"} {
		if err := l.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"amqp://a/", "amqp://b/", "amqp://c/"}; !slices.Equal(l, want) {
		t.Errorf("got %v, want %v", l, want)
	}
}

func TestBrokerPIDTakesRepeatsAndCommas(t *testing.T) {
	var p pidsFlag
	for _, v := range []string{"10", "11, 12"} {
		if err := p.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if want := []int{10, 11, 12}; !slices.Equal(p, want) {
		t.Errorf("got %v, want %v", p, want)
	}
}

func TestRecordedCommandHidesPasswords(t *testing.T) {
	got := redactArgs([]string{"--uri", "amqp://guest:secret@127.0.0.1:5672/", "--compare=amqp://u:pw@127.0.0.1:5673/"})
	for _, a := range got {
		if a == "amqp://guest:secret@127.0.0.1:5672/" || a == "--compare=amqp://u:pw@127.0.0.1:5673/" {
			t.Errorf("password left in %q", a)
		}
	}
}

func TestReadyTimesOutWithExitOne(t *testing.T) {
	// Port 1 on loopback refuses connections.
	args := []string{"--uri", "amqp://guest:guest@127.0.0.1:1/", "--queue", "q", "--timeout", "200ms", "--json"}
	if code := readyMain(context.Background(), time.Now(), args); code != 1 {
		t.Errorf("warren-perf ready %v exited %d, want 1", args, code)
	}
}
