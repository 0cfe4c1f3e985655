package exchange

// queueRef is a queue some binding routes to. The router interns one per
// queue name so that a route can mark a queue as reached by its small integer
// id instead of hashing its name.
type queueRef struct {
	name string
	id   uint32
	refs int // bindings that route to this queue
}

// target is where one binding sends a message: exactly one of q and x is set.
type target struct {
	q *queueRef
	x *exchange
}

// removeTarget deletes one occurrence of tg from *ts, keeping order, and
// reports whether it found one.
func removeTarget(ts *[]target, tg target) bool {
	s := *ts
	for i := range s {
		if s[i] == tg {
			copy(s[i:], s[i+1:])
			s[len(s)-1] = target{}
			*ts = s[:len(s)-1]
			return true
		}
	}
	return false
}
