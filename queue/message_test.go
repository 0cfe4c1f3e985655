package queue

import (
	"testing"
	"unsafe"
)

// TestMessageSizeClass: every queued message holds a Message; it must fit
// the runtime's 288-byte size class, not the 320-byte one above it.
func TestMessageSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Message{}); n > 288 {
		t.Fatalf("Message is %d bytes, want <= 288", n)
	}
}
