package s3

import (
	"context"
	"fmt"

	"github.com/aws/smithy-go/middleware"
	"go.opentelemetry.io/otel/attribute"

	"github.com/dumptool/dump/internal/tracing"
)

// Spans: an upload is a span of the caller's trace, each multipart part a
// child of it ("part N"), and each attempt the SDK itself repeats (its quick
// retries, see fastRetryer) a "retry" child of the request's span, as
// package retry makes one for each attempt of a whole operation. (Package gs
// gives a resumable upload's chunks the same shape.)

// uploadPart runs upload as the span of part num, of size bytes.
func uploadPart(ctx context.Context, num int32, size int64, upload func(context.Context) error) error {
	ctx, span := tracing.StartSpan(ctx, fmt.Sprintf("part %d", num), attribute.Int("part", int(num)), attribute.Int64("bytes", size))
	err := upload(ctx)
	tracing.End(span, err)
	return err
}

type attemptsKey struct{}

// addRetrySpans counts the attempts of each request and makes every one
// after the first a "retry" span. It sits right after the SDK's retry
// middleware, which calls it once per attempt.
func addRetrySpans(stack *middleware.Stack) error {
	if _, ok := stack.Finalize.Get("Retry"); !ok {
		return nil // presigning: nothing is sent
	}
	err := stack.Initialize.Add(middleware.InitializeMiddlewareFunc("dumpCountAttempts",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			return next.HandleInitialize(context.WithValue(ctx, attemptsKey{}, new(int)), in)
		}), middleware.Before)
	if err != nil {
		return err
	}
	return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("dumpRetrySpans",
		func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (out middleware.FinalizeOutput, md middleware.Metadata, err error) {
			n, _ := ctx.Value(attemptsKey{}).(*int)
			if n == nil {
				return next.HandleFinalize(ctx, in)
			}
			if *n++; *n == 1 {
				return next.HandleFinalize(ctx, in)
			}
			ctx, span := tracing.StartRetry(ctx, *n)
			out, md, err = next.HandleFinalize(ctx, in)
			tracing.End(span, err)
			return out, md, err
		}), "Retry", middleware.After)
}
