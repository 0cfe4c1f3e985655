package mgmt

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"

	"github.com/warrenmq/warren/broker"
	"github.com/warrenmq/warren/broker/policy"
	"github.com/warrenmq/warren/protocol"
)

// Exchanges, queues and bindings as rabbit_mgmt_wm_exchange(s),
// rabbit_mgmt_wm_queue(s) and rabbit_mgmt_wm_binding(s) list them. The
// lists of all vhosts hold the vhosts the user may log in to (all of
// them for administrators); one vhost's need access to it.

func (s *Server) objectRoutes() {
	s.on("GET", "/api/exchanges", anyUser, s.listExchanges)
	s.on("GET", "/api/exchanges/{vhost}", vhostUser, s.listExchanges)
	s.on("GET", "/api/exchanges/{vhost}/{name}", vhostUser, s.getExchange)
	s.on("GET", "/api/exchanges/{vhost}/{name}/bindings/source", vhostUser, s.exchangeBindings(true))
	s.on("GET", "/api/exchanges/{vhost}/{name}/bindings/destination", vhostUser, s.exchangeBindings(false))
	s.on("GET", "/api/queues", anyUser, s.listQueues)
	s.on("GET", "/api/queues/{vhost}", vhostUser, s.listQueues)
	s.on("GET", "/api/queues/{vhost}/{name}", vhostUser, s.getQueue)
	s.on("GET", "/api/queues/{vhost}/{name}/bindings", vhostUser, s.queueBindings)
	s.on("GET", "/api/bindings", anyUser, s.listBindings)
	s.on("GET", "/api/bindings/{vhost}", vhostUser, s.listBindings)
	for _, d := range []string{"q", "e"} {
		s.on("GET", "/api/bindings/{vhost}/e/{source}/"+d+"/{destination}", vhostUser, s.bindingsBetween(d))
		s.on("GET", "/api/bindings/{vhost}/e/{source}/"+d+"/{destination}/{props}", vhostUser, s.getBinding(d))
	}
}

// vhostsOf are the vhosts a list covers: the path's, or those the user
// may use (every vhost for an administrator).
func (s *Server) vhostsOf(r *request) ([]string, *apiError) {
	if v := r.path("vhost"); v != "" {
		if !s.vhostExists(v) {
			return nil, notFound()
		}
		return []string{v}, nil
	}
	if isAdmin(r.user) {
		return s.b.Vhosts(), nil
	}
	return s.loginVhosts(r.user, false), nil
}

func (s *Server) vhostExists(v string) bool {
	for _, x := range s.b.Vhosts() {
		if x == v {
			return true
		}
	}
	return false
}

// table is an AMQP table as the API writes it.
func table(t protocol.Table) json.Marshaler { return broker.DefArgs(t) }

func exchangeItem(x broker.ExchangeInfo) item {
	return item{"name": x.Name, "vhost": x.Vhost, "type": x.Type, "durable": x.Durable,
		"auto_delete": x.AutoDelete, "internal": x.Internal, "arguments": table(x.Args)}
}

func (s *Server) listExchanges(r *request) (reply, *apiError) {
	vhosts, err := s.vhostsOf(r)
	if err != nil {
		return reply{}, err
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	var xs []broker.ExchangeInfo
	for _, v := range vhosts {
		xs = append(xs, s.b.Exchanges(v)...)
	}
	out := make([]item, len(xs))
	s.stats.view(func() {
		for i, x := range xs {
			out[i] = exchangeItem(x)
			s.stats.putExchangeStats(out[i], x, rg, false)
		}
	})
	return list(r, out, "vhost", "name")
}

// findExchange returns the path's exchange ("amq.default" is "").
func (s *Server) findExchange(vhost, name string) (broker.ExchangeInfo, bool) {
	if name == "amq.default" {
		name = ""
	}
	for _, x := range s.b.Exchanges(vhost) {
		if x.Name == name {
			return x, true
		}
	}
	return broker.ExchangeInfo{}, false
}

func (s *Server) getExchange(r *request) (reply, *apiError) {
	x, found := s.findExchange(r.path("vhost"), r.path("name"))
	if !found {
		return reply{}, notFound()
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	it := exchangeItem(x)
	it["incoming"], it["outgoing"] = []item{}, []item{}
	s.stats.view(func() { s.stats.putExchangeStats(it, x, rg, rg.msgRates != nil) })
	return ok(it)
}

// queueItem is a queue with its counters.
func queueItem(q broker.QueueInfo) item {
	it := item{"name": q.Name, "vhost": q.Vhost, "type": q.Type, "durable": q.Durable,
		"auto_delete": q.AutoDelete, "exclusive": q.Exclusive, "arguments": table(q.Args), "node": q.Node,
		"policy": orNull(q.Policy), "operator_policy": orNull(q.OperatorPolicy),
		"exclusive_consumer_tag": nil, "single_active_consumer_tag": nil,
		"effective_policy_definition": effectivePolicy(q.EffectivePolicy)}
	if q.Members != nil {
		it["members"] = q.Members
	}
	if q.Running {
		ready, unacked := int64(q.Stats.Ready), int64(q.Stats.Unacked)
		it["state"] = "running"
		it["messages"], it["messages_ready"], it["messages_unacknowledged"] = ready+unacked, ready, unacked
		it["consumers"] = int64(q.Stats.Consumers)
	} else {
		it["state"] = "down"
	}
	return it
}

// orNull is a name, or null for none, as RabbitMQ writes a queue's policy
// and operator_policy.
func orNull(name string) any {
	if name == "" {
		return nil
	}
	return name
}

// effectivePolicy is a queue's effective_policy_definition: the merged
// definition, {} when no policy applies.
func effectivePolicy(d policy.Definition) any {
	if d == nil {
		return item{}
	}
	return d
}

func (s *Server) listQueues(r *request) (reply, *apiError) {
	vhosts, err := s.vhostsOf(r)
	if err != nil {
		return reply{}, err
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	var qs []broker.QueueInfo
	for _, v := range vhosts {
		qs = append(qs, s.b.Queues(r.Context(), v)...)
	}
	out := make([]item, len(qs))
	s.stats.view(func() {
		for i, q := range qs {
			out[i] = queueItem(q)
			s.stats.putQueueStats(out[i], q, rg, false)
		}
	})
	return list(r, out, "vhost", "name")
}

// findQueue returns the path's queue.
func (s *Server) findQueue(r *request) (broker.QueueInfo, bool) {
	for _, q := range s.b.Queues(r.Context(), r.path("vhost")) {
		if q.Name == r.path("name") {
			return q, true
		}
	}
	return broker.QueueInfo{}, false
}

func (s *Server) getQueue(r *request) (reply, *apiError) {
	q, found := s.findQueue(r)
	if !found {
		return reply{}, notFound()
	}
	rg, err := requestRanges(r)
	if err != nil {
		return reply{}, err
	}
	it := queueItem(q)
	s.stats.view(func() { s.stats.putQueueStats(it, q, rg, rg.msgRates != nil || rg.lengths != nil) })
	var cs []item
	for _, c := range s.b.Consumers() {
		if c.Vhost == q.Vhost && c.Queue == q.Name {
			cs = append(cs, consumerItem(c))
		}
	}
	if cs == nil {
		cs = []item{}
	}
	it["consumer_details"], it["incoming"], it["deliveries"] = cs, []item{}, []item{}
	return ok(it)
}

// propertiesKey names a binding in a URL as RabbitMQ's pack_binding_props
// does: the routing key ("~" when empty), then "~" and a digest of the
// arguments when there are any. The digest is Warren's own: keys are
// read from listings, never made by clients.
func propertiesKey(key string, args protocol.Table) string {
	k := strings.ReplaceAll(url.QueryEscape(key), "~", "%7E")
	if len(args) == 0 {
		if key == "" {
			return "~"
		}
		return k
	}
	j, _ := json.Marshal(table(args))
	sum := sha256.Sum256(j)
	return k + "~" + base64.RawURLEncoding.EncodeToString(sum[:4])
}

func bindingItem(b broker.BindingInfo) item {
	return item{"source": b.Source, "vhost": b.Vhost, "destination": b.Destination,
		"destination_type": b.DestinationType, "routing_key": b.RoutingKey, "arguments": table(b.Args),
		"properties_key": propertiesKey(b.RoutingKey, b.Args)}
}

func (s *Server) listBindings(r *request) (reply, *apiError) {
	vhosts, err := s.vhostsOf(r)
	if err != nil {
		return reply{}, err
	}
	var out []item
	for _, v := range vhosts {
		for _, b := range s.b.Bindings(v) {
			out = append(out, bindingItem(b))
		}
	}
	return ok(out)
}

// bindingsWhere lists the path vhost's bindings keep accepts.
func (s *Server) bindingsWhere(r *request, keep func(broker.BindingInfo) bool) []item {
	out := []item{}
	for _, b := range s.b.Bindings(r.path("vhost")) {
		if keep(b) {
			out = append(out, bindingItem(b))
		}
	}
	return out
}

func (s *Server) exchangeBindings(source bool) handlerFunc {
	return func(r *request) (reply, *apiError) {
		x, found := s.findExchange(r.path("vhost"), r.path("name"))
		if !found {
			return reply{}, notFound()
		}
		return ok(s.bindingsWhere(r, func(b broker.BindingInfo) bool {
			if source {
				return b.Source == x.Name && x.Name != ""
			}
			return b.DestinationType == "exchange" && b.Destination == x.Name
		}))
	}
}

func (s *Server) queueBindings(r *request) (reply, *apiError) {
	if _, found := s.findQueue(r); !found {
		return reply{}, notFound()
	}
	return ok(s.bindingsWhere(r, func(b broker.BindingInfo) bool {
		return b.DestinationType == "queue" && b.Destination == r.path("name")
	}))
}

// destKind is the path's destination type letter as the binding's.
func destKind(d string) string {
	if d == "e" {
		return "exchange"
	}
	return "queue"
}

// checkBindingEnds answers 404 when the path's source or destination is
// missing.
func (s *Server) checkBindingEnds(r *request, d string) *apiError {
	if _, found := s.findExchange(r.path("vhost"), r.path("source")); !found {
		return notFound()
	}
	if d == "e" {
		if _, found := s.findExchange(r.path("vhost"), r.path("destination")); !found {
			return notFound()
		}
		return nil
	}
	for _, q := range s.b.Queues(r.Context(), r.path("vhost")) {
		if q.Name == r.path("destination") {
			return nil
		}
	}
	return notFound()
}

func (s *Server) between(r *request, d string) func(broker.BindingInfo) bool {
	src := r.path("source")
	if src == "amq.default" {
		src = ""
	}
	return func(b broker.BindingInfo) bool {
		return b.Source == src && b.Destination == r.path("destination") && b.DestinationType == destKind(d)
	}
}

func (s *Server) bindingsBetween(d string) handlerFunc {
	return func(r *request) (reply, *apiError) {
		if err := s.checkBindingEnds(r, d); err != nil {
			return reply{}, err
		}
		return ok(s.bindingsWhere(r, s.between(r, d)))
	}
}

// findBinding returns the binding the path's properties key names.
func (s *Server) findBinding(r *request, d string) (broker.BindingInfo, bool) {
	keep := s.between(r, d)
	for _, b := range s.b.Bindings(r.path("vhost")) {
		if keep(b) && sameProps(r.path("props"), propertiesKey(b.RoutingKey, b.Args)) {
			return b, true
		}
	}
	return broker.BindingInfo{}, false
}

// sameProps reports whether a path's properties key names the binding
// whose key is want. The path segment was decoded once; a client may
// have escaped the key again or not (RabbitMQ unquotes it once more), so
// the keys are compared unquoted too.
func sameProps(got, want string) bool {
	if got == want {
		return true
	}
	g, err := url.QueryUnescape(got)
	if err != nil {
		return false
	}
	w, err := url.QueryUnescape(want)
	return err == nil && g == w
}

func (s *Server) getBinding(d string) handlerFunc {
	return func(r *request) (reply, *apiError) {
		b, found := s.findBinding(r, d)
		if !found {
			return reply{}, notFound()
		}
		return ok(bindingItem(b))
	}
}
