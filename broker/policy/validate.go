package policy

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ValidationError is a policy RabbitMQ would refuse, with its reasons in
// RabbitMQ's words (rabbit_policies, rabbit_policy,
// rabbit_parameter_validation). Error returns them as RabbitMQ reports a
// failed rabbitmqctl set_policy: "Validation failed", a blank line, then
// one reason per line.
type ValidationError struct {
	Reasons []string
}

// Error implements error.
func (e *ValidationError) Error() string {
	return "Validation failed\n\n" + strings.Join(e.Reasons, "\n")
}

func invalid(reason string) *ValidationError { return &ValidationError{Reasons: []string{reason}} }

// MaxPatternLength is the longest pattern RabbitMQ compiles (rabbit_re).
const MaxPatternLength = 1024

// The apply-to values: what kind of object a policy matches.
const (
	ApplyAll       = "all"
	ApplyQueues    = "queues"
	ApplyExchanges = "exchanges"
	ApplyClassic   = "classic_queues"
	ApplyQuorum    = "quorum_queues"
	ApplyStreams   = "streams"
)

var applyTos = []string{ApplyAll, ApplyQueues, ApplyExchanges, ApplyClassic, ApplyQuorum, ApplyStreams}

// key describes one definition key: its check (nil for the ha-* keys,
// checked together), whether an operator policy may set it, and how an
// operator policy's value merges with a user policy's.
type key struct {
	check    func(v any) string
	operator bool
	merge    func(user, op any) any
}

// keys are the definition keys RabbitMQ 4 accepts (rabbit_policies,
// rabbit_classic_queue, rabbit_quorum_queue), and the ha-* keys of 3.x's
// classic queue mirroring (rabbit_mirror_queue_misc).
var keys = map[string]key{
	"alternate-exchange":            {check: isString("is not a valid alternate exchange name")},
	"consumer-disconnected-timeout": {check: intAtLeast(0, "is not a valid consumer disconnected timeout")},
	"consumer-timeout":              {check: intAtLeast(0, "is not a valid consumer timeout")},
	"dead-letter-exchange":          {check: isString("is not a valid dead letter exchange name")},
	"dead-letter-routing-key":       {check: isString("is not a valid dead letter routing key")},
	"dead-letter-strategy":          {check: oneOf("is not a valid dead letter strategy", "at-most-once", "at-least-once")},
	"message-ttl":                   {check: intAtLeast(0, "is not a valid message TTL"), operator: true, merge: mergeMin},
	"expires":                       {check: intAtLeast(1, "is not a valid queue expiry"), operator: true, merge: mergeMin},
	"max-length":                    {check: intAtLeast(0, "is not a valid maximum length"), operator: true, merge: mergeMin},
	"max-length-bytes":              {check: intAtLeast(0, "is not a valid maximum length in bytes"), operator: true, merge: mergeMin},
	"max-in-memory-length":          {check: intAtLeast(0, "is not a valid maximum memory in bytes"), operator: true, merge: mergeMin},
	"max-in-memory-bytes":           {check: intAtLeast(0, "is not a valid maximum memory in bytes"), operator: true, merge: mergeMin},
	"queue-mode":                    {check: oneOf("is not a valid queue-mode value", "default", "lazy")},
	"queue-version":                 {check: intIn("is not a valid queue-version value", 1, 2), operator: true, merge: mergeOperator},
	"overflow":                      {check: oneOf("is not a valid overflow value", "drop-head", "reject-publish", "reject-publish-dlx"), operator: true, merge: mergeOperator},
	"delivery-limit":                {check: intAtLeast(minInt, "is not a valid delivery limit"), operator: true, merge: mergeDeliveryLimit},
	"max-age":                       {check: checkMaxAge},
	"stream-max-segment-size-bytes": {check: intIn("is not a valid segment size", 0, maxSegmentSize)},
	"stream-filter-size-bytes":      {check: intIn("is not a valid filter size. Valid range is 16-255", 16, 255)},
	"queue-leader-locator":          {check: oneOf("is not a valid queue leader locator value", "client-local", "balanced", "random", "least-leaders")},
	"initial-cluster-size":          {check: intAtLeast(0, "is not a valid cluster size")},
	"queue-master-locator":          {check: oneOf("is not a valid master locator", "client-local", "balanced", "min-masters", "random"), operator: true, merge: mergeOperator},
	"target-group-size":             {check: intAtLeast(1, "is not a valid qq target count value"), operator: true, merge: mergeMax},
	"ha-mode":                       {operator: true, merge: mergeOperator},
	"ha-params":                     {operator: true, merge: mergeOperator},
	"ha-sync-mode":                  {operator: true, merge: mergeOperator},
	"ha-sync-batch-size":            {},
	"ha-promote-on-shutdown":        {},
	"ha-promote-on-failure":         {},
}

const (
	minInt         = -1 << 63
	maxSegmentSize = 3_000_000_000 // RabbitMQ's ?MAX_STREAM_MAX_SEGMENT_SIZE
)

// Known reports whether a policy may set key, and OperatorKey whether an
// operator policy may.
func Known(key string) bool { _, ok := keys[key]; return ok }

// OperatorKey reports whether an operator policy may set key.
func OperatorKey(key string) bool { return keys[key].operator }

func isString(msg string) func(any) string {
	return func(v any) string {
		if _, ok := v.(string); ok {
			return ""
		}
		return ErlangTerm(v) + " " + msg
	}
}

func intAtLeast(least int64, msg string) func(any) string {
	return func(v any) string {
		if n, ok := v.(int64); ok && n >= least {
			return ""
		}
		return ErlangTerm(v) + " " + msg
	}
}

func intIn(msg string, lo, hi int64) func(any) string {
	return func(v any) string {
		if n, ok := v.(int64); ok && n >= lo && n <= hi {
			return ""
		}
		return ErlangTerm(v) + " " + msg
	}
}

func oneOf(msg string, values ...string) func(any) string {
	return func(v any) string {
		if s, ok := v.(string); ok && slices.Contains(values, s) {
			return ""
		}
		return ErlangTerm(v) + " " + msg
	}
}

// checkMaxAge accepts what rabbit_amqqueue:check_max_age/1 accepts: a
// positive integer followed by Y, M, D, h, m or s.
func checkMaxAge(v any) string {
	s, _ := v.(string)
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i > 0 && i < 19 && strings.TrimLeft(s[:i], "0") != "" && slices.Contains([]string{"Y", "M", "D", "h", "m", "s"}, s[i:]) {
		return ""
	}
	return ErlangTerm(v) + " is not a valid max age"
}

// checkHA checks the ha-* keys together, as 3.x's
// rabbit_mirror_queue_misc:validate_policy: none, or ha-mode with the
// parameters its mode takes.
func checkHA(d Definition) string {
	mode, hasMode := d["ha-mode"]
	if !hasMode {
		for _, k := range []string{"ha-params", "ha-sync-mode", "ha-sync-batch-size", "ha-promote-on-shutdown", "ha-promote-on-failure"} {
			if _, ok := d[k]; ok {
				return "ha-mode must be specified to specify ha-params, ha-sync-mode or ha-promote-on-shutdown"
			}
		}
		return ""
	}
	params, hasParams := d["ha-params"]
	switch mode {
	case "all":
		if hasParams {
			return `ha-mode="all" does not take parameters`
		}
	case "exactly":
		if n, ok := params.(int64); !ok || n <= 0 {
			return `ha-mode="exactly" takes an integer, ` + haParam(params, hasParams) + " given"
		}
	case "nodes":
		if r := checkHANodes(params, hasParams); r != "" {
			return r
		}
	default:
		return ErlangTerm(mode) + " is not a valid ha-mode value"
	}
	return checkHAOthers(d)
}

// haParam renders an absent ha-params as RabbitMQ does: none.
func haParam(v any, present bool) string {
	if !present {
		return "none"
	}
	return ErlangTerm(v)
}

func checkHANodes(params any, present bool) string {
	list, ok := params.([]any)
	if !ok {
		return `ha-mode="nodes" takes a list, ` + haParam(params, present) + " given"
	}
	if len(list) == 0 {
		return `ha-mode="nodes" list must be non-empty`
	}
	var bad []any
	for _, n := range list {
		if _, ok := n.(string); !ok {
			bad = append(bad, n)
		}
	}
	if len(bad) > 0 {
		return `ha-mode="nodes" takes a list of strings, ` + ErlangTerm(bad) + " was not a string"
	}
	return ""
}

func checkHAOthers(d Definition) string {
	if v, ok := d["ha-sync-mode"]; ok && v != "automatic" && v != "manual" {
		return `ha-sync-mode must be "manual" or "automatic", got ` + ErlangTerm(v)
	}
	if v, ok := d["ha-sync-batch-size"]; ok {
		if n, isInt := v.(int64); !isInt || n <= 0 {
			return "ha-sync-batch-size takes an integer greater than 0, " + ErlangTerm(v) + " given"
		}
	}
	for _, k := range []string{"ha-promote-on-shutdown", "ha-promote-on-failure"} {
		if v, ok := d[k]; ok && v != "always" && v != "when-synced" {
			return k + ` must be "always" or "when-synced", got ` + ErlangTerm(v)
		}
	}
	return ""
}

// checkDefinition returns the first reason RabbitMQ refuses d for, or "":
// an empty definition, a key an operator policy may not set (operator)
// or no policy knows, or a bad value.
func checkDefinition(d Definition, operator bool) string {
	if len(d) == 0 {
		return "no policy provided"
	}
	var unknown []string
	for _, k := range d.Keys() {
		kd, ok := keys[k]
		switch {
		case !ok || (operator && !kd.operator):
			unknown = append(unknown, k)
		case kd.check != nil:
			if r := kd.check(d[k]); r != "" {
				return r
			}
		}
	}
	if r := checkHA(d); r != "" {
		return r
	}
	if len(unknown) > 0 {
		return proplist(d, unknown) + " are not recognised policy settings"
	}
	return ""
}

// checkPattern returns why pattern cannot be a policy's, or "".
func checkPattern(pattern string) string {
	if len(pattern) > MaxPatternLength {
		return fmt.Sprintf("pattern must not exceed %d bytes", MaxPatternLength)
	}
	if _, err := regexp.Compile(pattern); err != nil {
		return "pattern should be regular expression but is invalid: " + ErlangTerm(err.Error())
	}
	return ""
}

// Validate checks p as RabbitMQ validates a policy (operator false) or an
// operator policy (operator true) before storing it, and returns a
// *ValidationError listing every reason, in RabbitMQ's order, or nil.
// An empty ApplyTo is "all".
func (p *Policy) Validate(operator bool) error {
	var reasons []string
	if r := checkDefinition(p.Definition, operator); r != "" {
		reasons = append(reasons, r)
	}
	if p.ApplyTo != "" && !slices.Contains(applyTos, p.ApplyTo) {
		reasons = append(reasons, "apply-to '"+p.ApplyTo+"' unrecognised; should be one of: 'queues', "+
			"'classic_queues',  'quorum_queues', 'streams', 'exchanges', or 'all'")
	}
	if r := checkPattern(p.Pattern); r != "" {
		reasons = append(reasons, r)
	}
	if len(reasons) > 0 {
		return &ValidationError{Reasons: reasons}
	}
	return nil
}
