package console_test

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestConsoleTenThousandQueues: with 10,000 queues the queues page shows
// 100 a page and pages through them; it measures (logs, never asserts:
// a shared machine's timings are figures, not verdicts) the API
// request's time and a whole page change's, as the browser sees them.
// It skips with -short and -race (make test-scale runs it).
func TestConsoleTenThousandQueues(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("declares 10,000 queues and times the console: run without -short and -race (make test-scale)")
	}
	n := startNode(t)
	declare(t, n, 10000)
	ctx := newTab(t)
	run(t, ctx, logIn(n, "#/queues", "guest", "guest"),
		chromedp.WaitVisible(chromedp.CSS(".list select[aria-label='Rows per page']")),
		chromedp.SetValue(chromedp.CSS(".list select[aria-label='Rows per page']"), "100"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(".list select[aria-label='Rows per page']").dispatchEvent(new Event('change'))`))
	waitText(t, ctx, ".pager .page-of", 10*time.Second, func(s string) bool { return s == "Page 1 of 100" })
	rows, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('.list tbody tr').length`))
	if err != nil || rows != 100 {
		t.Fatalf("rows on the page: %d, %v; want 100", rows, err)
	}

	var api, change []float64
	for i := range 10 {
		a, err := chromedp.Run(ctx, chromedp.Evaluate[float64](apiTimeJS, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		button := "Next →"
		if i%2 == 1 {
			button = "← Previous"
		}
		c, err := chromedp.Run(ctx, chromedp.Evaluate[float64](fmt.Sprintf(pageChangeJS, button), chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		api, change = append(api, a), append(change, c)
	}
	slices.Sort(api)
	slices.Sort(change)
	t.Logf("10,000 queues, a page of 100: API request %.0f ms (median, fetch and JSON), page change %.0f ms (median: request, render, patch); best %.0f / %.0f ms",
		api[len(api)/2], change[len(change)/2], api[0], change[0])
}

// apiTimeJS times the queues page's API request as the console sends it.
const apiTimeJS = `(async () => {
  const auth = JSON.parse(sessionStorage.getItem('warren.credentials')).auth;
  const t0 = performance.now();
  const r = await fetch('/api/queues?page=1&page_size=100', {headers: {Authorization: auth, 'X-Requested-With': 'XMLHttpRequest'}, cache: 'no-store'});
  await r.json();
  return performance.now() - t0;
})()`

// pageChangeJS clicks the pager button named %s and times until the
// page's label changes.
const pageChangeJS = `(async () => {
  const label = document.querySelector('.pager .page-of');
  const before = label.textContent;
  const button = [...document.querySelectorAll('.pager button')].find(b => b.textContent === %q);
  const t0 = performance.now();
  const changed = new Promise(resolve => {
    const mo = new MutationObserver(() => { if (label.textContent !== before) { mo.disconnect(); resolve(); } });
    mo.observe(label, {childList: true, characterData: true, subtree: true});
  });
  button.click();
  await changed;
  await new Promise(r => requestAnimationFrame(() => setTimeout(r)));
  return performance.now() - t0;
})()`

// declare declares n queues named q00000… over a few channels.
func declare(t *testing.T, n *node, count int) {
	t.Helper()
	start := time.Now()
	conn := n.dial(t, "")
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ch, err := conn.Channel()
			if err != nil {
				errs <- err
				return
			}
			defer ch.Close()
			for i := w; i < count; i += workers {
				if _, err := ch.QueueDeclare(fmt.Sprintf("q%05d", i), false, false, false, false, nil); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("declared %d queues in %v", count, time.Since(start))
}
