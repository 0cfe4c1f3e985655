package main

import (
	"fmt"
	"strings"
)

// Exit codes, RabbitMQ CLI's (sysexits.h's): rabbitmqctl exits with the
// same ones for the same failures.
const (
	exitOK          = 0
	exitUsage       = 64 // a bad verb, flag, argument or column
	exitDataErr     = 65 // bad input: a file, JSON, a refused value, a missing vhost or object
	exitNoUser      = 67 // no such user
	exitUnavailable = 69 // the API cannot be reached or failed
	exitSoftware    = 70 // any other failure
	exitTempFail    = 75 // the request timed out
	exitNoPerm      = 77 // the API refused the login or the operation (401)
)

// cliError is a failure reported to the user: the text printed on
// stderr and the exit code.
type cliError struct {
	code int
	msg  string
}

func (e *cliError) Error() string { return e.msg }

// fail is a cliError with a formatted text.
func fail(code int, format string, args ...any) *cliError {
	return &cliError{code: code, msg: fmt.Sprintf(format, args...)}
}

// usageError is a verb's arguments refused before any request, printed
// as rabbitmqctl prints an argument validation failure, with the verb's
// usage.
type usageError struct {
	code   int
	detail string
}

func (e *usageError) Error() string { return e.detail }

func notEnoughArgs() error { return &usageError{exitUsage, "not enough arguments."} }
func tooManyArgs() error   { return &usageError{exitUsage, "too many arguments."} }

// badArgument is an argument with a bad value (exit 65, as rabbitmqctl's
// bad_argument).
func badArgument(format string, args ...any) error {
	return &usageError{exitDataErr, "Bad argument. " + fmt.Sprintf(format, args...)}
}

// badInfoKeys refuses columns a list verb does not know.
func badInfoKeys(keys []string) error {
	return &usageError{exitUsage, "Info key(s) " + strings.Join(keys, ",") + " are not supported"}
}

// noSuchUser is rabbitmqctl's answer for a user that does not exist.
func noSuchUser(name string) *cliError {
	return fail(exitNoUser, "Error:\nUser %q does not exist", name)
}

// noSuchVhost is rabbitmqctl's answer for a vhost that does not exist.
func noSuchVhost(name string) *cliError {
	return fail(exitDataErr, "Error:\nVirtual host '%s' does not exist", name)
}
