// Package console is Warren's web console: plain HTML, CSS and
// JavaScript modules embedded in the binary (static/, go:embed), with no
// build step and nothing fetched from elsewhere at run time. The
// management server (broker/mgmt) serves it at "/" beside its API at
// "/api/", as RabbitMQ serves its UI; Handler is all this package
// exports.
//
// The console is a client of the management API and nothing more: it
// logs in with basic auth against /api/whoami (the credentials stay in
// the tab's sessionStorage until "Log out"), and every page fetches its
// JSON and patches the DOM it built once (tables keep their rows by key),
// so a refresh never reloads the page, moves the focus or clears a form.
// Lists are fetched a page at a time with the API's own pagination,
// filtering and sorting (page, page_size, name, use_regex, sort,
// sort_reverse), so 10,000 queues cost one page of JSON. The refresh
// interval is the user's choice (5 s by default, as RabbitMQ's); charts
// are drawn on a canvas from samples taken every 5 s: queue_totals and a
// queue's message counts, and RabbitMQ's message_stats rates
// (publish_details.rate …) when the node reports them. The API sends no
// basic-auth challenge to the console's requests (X-Requested-With), so
// a failed login shows as text rather than as the browser's dialog.
//
// The files (static/):
//
//	index.html            the page: login form, navigation, confirmation dialog
//	console.css           the styles (light and dark)
//	js/main.js            login and logout, the #/… router, the refresh loop, keyboard shortcuts
//	js/api.js             fetch with basic auth; the API's {"error","reason"} as text
//	js/dom.js             element builder, Table (rows patched by key), forms, the dialog
//	js/list.js            PagedList: one page of an API list, filter, page size, pager
//	js/chart.js           sample series and canvas line charts
//	js/views/*.js         the pages: overview and nodes, connections and channels,
//	                      exchanges, queues, users and vhosts (access.js), policies
//	                      and definitions (admin.js), and what they share (common.js)
//
// Handler answers GET and HEAD with the file, an ETag of its content
// (so a reload costs a 304 and a new binary's files replace the old at
// once), and headers that keep the page from being framed or running
// any script but its own (Content-Security-Policy). Folders are not
// listed.
//
// # Goroutines and locks
//
// None: Handler runs on net/http's request goroutines and reads only
// the embedded files and a map of their ETags made before it returns.
package console
