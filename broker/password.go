package broker

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"fmt"
	"hash"

	"github.com/warrenmq/warren/broker/meta"
)

// Passwords are stored as RabbitMQ's internal users keep them: a 4-octet
// random salt followed by the digest of salt ++ password, under the
// user's hashing algorithm (rabbit_password). New passwords are hashed
// with SHA-256, RabbitMQ's default; SHA-512 and MD5 hashes, as older or
// differently configured RabbitMQ nodes export them, are read too.

// saltLen is the length of a password hash's salt.
const saltLen = 4

// hasher returns the digest of algorithm, or nil for one Warren does not
// know.
func hasher(algorithm string) func() hash.Hash {
	switch algorithm {
	case meta.HashSHA256:
		return sha256.New
	case meta.HashSHA512:
		return sha512.New
	case meta.HashMD5:
		return md5.New
	}
	return nil
}

// checkHashing reports an algorithm Warren cannot verify passwords with,
// or a hash that is neither empty (no password) nor a salt and a digest
// of that algorithm.
func checkHashing(algorithm string, passwordHash []byte) error {
	h := hasher(algorithm)
	if h == nil {
		return fmt.Errorf("unknown password hashing algorithm '%s'", algorithm)
	}
	if n := len(passwordHash); n != 0 && n != saltLen+h().Size() {
		return fmt.Errorf("a password hash of %d bytes is not a salt and a %s digest", n, algorithm)
	}
	return nil
}

// saltedHash returns salt ++ digest(salt ++ password).
func saltedHash(algorithm string, salt []byte, password string) []byte {
	h := hasher(algorithm)()
	h.Write(salt)
	h.Write([]byte(password))
	return h.Sum(append([]byte(nil), salt...))
}

// hashPassword hashes a new password with SHA-256 and a fresh random
// salt, before the command carrying it is proposed.
func hashPassword(password string) []byte {
	salt := make([]byte, saltLen)
	rand.Read(salt)
	return saltedHash(meta.HashSHA256, salt, password)
}

// dummyHash is checked against when the user does not exist, so that a
// refusal takes as long either way (rabbit_auth_backend_internal's
// dummy_sentinel_user).
var dummyHash = make([]byte, saltLen+sha256.Size)

// passwordMatches reports, in constant time for a given algorithm,
// whether password is the one u's hash was made from. A user without a
// password matches none.
func passwordMatches(u *meta.UserDef, password string) bool {
	if len(u.PasswordHash) <= saltLen || hasher(u.Hashing) == nil {
		return false
	}
	got := saltedHash(u.Hashing, u.PasswordHash[:saltLen], password)
	return subtle.ConstantTimeCompare(got, u.PasswordHash) == 1
}
