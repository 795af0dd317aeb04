package telemetry

import (
	"context"
	"errors"
	"sync"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// exportTimeout bounds one export, so a collector that accepts connections but never answers cannot
// hold the queue for long.
const exportTimeout = 10 * time.Second

// batchInterval is how long a partial batch waits for more spans.
const batchInterval = time.Second

// queueProcessor batches ended spans for export through a bounded queue. It exists instead of the
// SDK's BatchSpanProcessor, which drops silently: this one counts every dropped span in a metric, so
// an operator can see that traces are missing and why. OnEnd never blocks: a request ends its span and
// moves on whether or not the collector is up.
type queueProcessor struct {
	exporter  sdktrace.SpanExporter
	queue     chan sdktrace.ReadOnlySpan
	batchSize int
	dropped   metric.Int64Counter

	flush    chan chan struct{}
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

func newQueueProcessor(exp sdktrace.SpanExporter, queueSize, batchSize int, dropped metric.Int64Counter) *queueProcessor {
	p := &queueProcessor{
		exporter:  exp,
		queue:     make(chan sdktrace.ReadOnlySpan, queueSize),
		batchSize: batchSize,
		dropped:   dropped,
		flush:     make(chan chan struct{}),
		stop:      make(chan struct{}),
		done:      make(chan struct{}),
	}
	go p.run()
	return p
}

func (p *queueProcessor) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (p *queueProcessor) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	select {
	case <-p.stop:
		return
	default:
	}
	select {
	case p.queue <- s:
	default:
		p.dropped.Add(context.Background(), 1)
	}
}

// run owns the batch: it exports when the batch is full, when batchInterval passes, on ForceFlush and
// on Shutdown.
func (p *queueProcessor) run() {
	defer close(p.done)
	batch := make([]sdktrace.ReadOnlySpan, 0, p.batchSize)
	ticker := time.NewTicker(batchInterval)
	defer ticker.Stop()
	export := func() {
		if len(batch) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), exportTimeout)
		defer cancel()
		if err := p.exporter.ExportSpans(ctx, batch); err != nil {
			// Counted by the error handler Setup installs; the spans are lost, not retried forever.
			otel.Handle(err)
		}
		clear(batch)
		batch = batch[:0]
	}
	drain := func() {
		for {
			select {
			case s := <-p.queue:
				batch = append(batch, s)
				if len(batch) == p.batchSize {
					export()
				}
			default:
				export()
				return
			}
		}
	}
	for {
		select {
		case s := <-p.queue:
			batch = append(batch, s)
			if len(batch) == p.batchSize {
				export()
			}
		case <-ticker.C:
			export()
		case ack := <-p.flush:
			drain()
			close(ack)
		case <-p.stop:
			drain()
			return
		}
	}
}

// ForceFlush exports everything queued so far.
func (p *queueProcessor) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case p.flush <- ack:
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is queued, then shuts the exporter down, within ctx's deadline.
func (p *queueProcessor) Shutdown(ctx context.Context) error {
	p.stopOnce.Do(func() { close(p.stop) })
	select {
	case <-p.done:
	case <-ctx.Done():
		return errors.Join(ctx.Err(), p.exporter.Shutdown(ctx))
	}
	return p.exporter.Shutdown(ctx)
}
