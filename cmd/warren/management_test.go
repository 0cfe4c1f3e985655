package main

import "testing"

// TestDefaultManagementListen: the API listens beside the first AMQP
// listener, 10000 ports up, as RabbitMQ's 15672 beside 5672.
func TestDefaultManagementListen(t *testing.T) {
	cases := []struct {
		listen []string
		want   string
	}{
		{[]string{"127.0.0.1:5672"}, "127.0.0.1:15672"},
		{[]string{"127.0.0.1:5673", "[::1]:5673"}, "127.0.0.1:15673"},
		{[]string{"[::1]:5672"}, "[::1]:15672"},
		{[]string{"127.0.0.1:0"}, "127.0.0.1:0"},
		{[]string{"127.0.0.1:60000"}, "127.0.0.1:0"},
		{nil, "127.0.0.1:15672"},
	}
	for _, c := range cases {
		if got := defaultManagementListen(c.listen); got != c.want {
			t.Errorf("defaultManagementListen(%v) = %q, want %q", c.listen, got, c.want)
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--listen", "127.0.0.1:5680"}, "127.0.0.1:15680"},
		{[]string{"--management-listen", "none"}, ""},
		{[]string{"--management-listen", "127.0.0.1:0"}, "127.0.0.1:0"},
	} {
		o, err := parseOptions(c.args, envOf(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if o.mgmtListen != c.want {
			t.Errorf("%v: management listener %q, want %q", c.args, o.mgmtListen, c.want)
		}
	}
}
