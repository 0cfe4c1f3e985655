package broker

import (
	"crypto/md5"
	"crypto/sha512"
	"testing"

	"github.com/warrenmq/warren/broker/meta"
)

// TestPasswordHashes: a password matches the hash RabbitMQ would store
// for it under each algorithm (salt ++ digest(salt ++ password)), and
// nothing else does; a user without a password matches none.
func TestPasswordHashes(t *testing.T) {
	salt := []byte{0xde, 0xad, 0xbe, 0xef}
	s512 := sha512.Sum512(append(append([]byte{}, salt...), "pw"...))
	m5 := md5.Sum(append(append([]byte{}, salt...), "pw"...))
	cases := []struct {
		name string
		u    meta.UserDef
		pass string
		want bool
	}{
		{"sha256 new", meta.UserDef{Hashing: meta.HashSHA256, PasswordHash: hashPassword("pw")}, "pw", true},
		{"sha256 wrong", meta.UserDef{Hashing: meta.HashSHA256, PasswordHash: hashPassword("pw")}, "pW", false},
		{"sha512", meta.UserDef{Hashing: meta.HashSHA512, PasswordHash: append(append([]byte{}, salt...), s512[:]...)}, "pw", true},
		{"md5", meta.UserDef{Hashing: meta.HashMD5, PasswordHash: append(append([]byte{}, salt...), m5[:]...)}, "pw", true},
		{"md5 read as sha256", meta.UserDef{Hashing: meta.HashSHA256, PasswordHash: append(append([]byte{}, salt...), m5[:]...)}, "pw", false},
		{"no password", meta.UserDef{Hashing: meta.HashSHA256}, "", false},
		{"unknown algorithm", meta.UserDef{Hashing: "rot13", PasswordHash: hashPassword("pw")}, "pw", false},
	}
	for _, c := range cases {
		if got := passwordMatches(&c.u, c.pass); got != c.want {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
	if a, b := hashPassword("pw"), hashPassword("pw"); string(a[:saltLen]) == string(b[:saltLen]) {
		t.Error("two hashes of one password share their salt")
	}
}

// TestPermissionPatterns: patterns match as rabbit_auth_backend_internal
// matches them: anywhere unless anchored, the empty pattern only the
// empty name, a pattern that does not compile nothing; topic patterns
// expand {username} and {vhost}, escaped, and leave {client_id}, which
// AMQP 0-9-1 connections do not have.
func TestPermissionPatterns(t *testing.T) {
	u := compileUser(&meta.UserAccess{
		User: meta.UserDef{Name: "a.b"},
		Perms: map[string]meta.Permission{
			"/": {Configure: "app", Write: "", Read: "^(q1|q2)$"},
			"v": {Configure: "(", Write: ".*", Read: ".*"},
		},
		Topics: map[string]map[string]meta.TopicPermission{
			"/": {"amq.topic": {Exchange: "amq.topic", Write: "^{username}\\.{vhost}", Read: "^{client_id}$"}},
		},
	})
	cases := []struct {
		vhost string
		perm  permKind
		name  string
		want  bool
	}{
		{"/", permConfigure, "my-app-queue", true},
		{"/", permConfigure, "other", false},
		{"/", permWrite, "", true},
		{"/", permWrite, "x", false},
		{"/", permRead, "q1", true},
		{"/", permRead, "q12", false},
		{"v", permConfigure, "(", false},
		{"nope", permWrite, "x", false},
	}
	for _, c := range cases {
		if got := u.allows(c.vhost, c.perm, c.name); got != c.want {
			t.Errorf("%s %s %q: %v, want %v", c.vhost, c.perm, c.name, got, c.want)
		}
	}
	topics := []struct {
		x, key string
		perm   permKind
		want   bool
	}{
		{"amq.topic", "a.b./.x", permWrite, true},
		{"amq.topic", "aXb./.x", permWrite, false}, // the user name's dot is escaped
		{"amq.topic", "{client_id}", permRead, true},
		{"other", "anything", permWrite, true}, // no topic permission there
	}
	for _, c := range topics {
		if got := u.allowsTopic("/", c.x, c.perm, c.key); got != c.want {
			t.Errorf("topic %s %s %q: %v, want %v", c.x, c.perm, c.key, got, c.want)
		}
	}
}
