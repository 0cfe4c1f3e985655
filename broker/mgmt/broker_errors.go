package mgmt

import (
	"context"
	"errors"
	"strings"

	"github.com/warrenmq/warren/protocol"
)

// fromBroker turns an error of the broker's Go API into the API's
// answer, as rabbit_mgmt_util turns an AMQP error: 404 not found, 403
// "Access refused.", 541 and failed commits a 500, anything else 400 with
// the explanation (the text without RabbitMQ's "CODE_NAME - " prefix).
func fromBroker(err error) *apiError {
	if err == nil {
		return nil
	}
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return fromAMQP(pe.Code, pe.Text)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return internalError("timed out: " + err.Error())
	}
	return badRequest(err.Error())
}

// fromAMQP maps a reply code and text.
func fromAMQP(code uint16, text string) *apiError {
	text = explanation(text)
	switch code {
	case protocol.NotFound:
		return &apiError{status: 404, kind: "not_found", reason: text}
	case protocol.AccessRefused, protocol.NotAllowed:
		return notAuthorised("Access refused.")
	case protocol.InternalError:
		return internalError(text)
	}
	return badRequest(text)
}

// explanation strips "NAME - " from a reply text.
func explanation(text string) string {
	if name, rest, ok := strings.Cut(text, " - "); ok && name == strings.ToUpper(name) && !strings.Contains(name, " ") {
		return rest
	}
	return text
}
