package sandbox

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"time"
)

// Notifier delivers one simulated platform's notifications the way the
// platforms do: in the background, built (and so signed and timestamped)
// afresh for every attempt, retried on the platform's schedule until the
// merchant acknowledges, every attempt recorded. Tests and control routes
// can also deliver now, several copies at once, or altered (the build
// function decides what is sent); a held notification is simply never
// sent in the background. Every simulator of the package uses one Notifier
// per kind of notification, keyed by what the platform keys them by (an
// out_trade_no, an out_refund_no, a tracking number).
type Notifier struct {
	schedule []time.Duration
	acked    func(status int, body string) bool
	onAck    func(key string) // set before the first delivery (OnAck)
	client   *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu    sync.Mutex
	log   map[string][]Delivery
	acks  map[string]chan struct{}
	ended bool
}

// Notification is one message ready to post, made by a build function for
// one attempt.
type Notification struct {
	URL    string
	Header http.Header
	Body   []byte
	// ID is the notification's id as the platform names it; Nonce, Tamper
	// and Event describe the attempt in its record.
	ID, Nonce, Tamper, Event string
	// Genuine marks the platform's own notification (not altered, not a
	// test variant): only its acknowledgement closes Acknowledged.
	Genuine bool
}

// Delivery is the record of one attempt.
type Delivery struct {
	ID     string
	Nonce  string
	Tamper string
	Event  string
	Status int // the merchant's HTTP status; 0 when the request failed
	Body   string
	Error  string
	At     time.Time
}

// Acked2xx is WeChat's rule: any 2xx acknowledges a notification.
func Acked2xx(status int, _ string) bool { return status >= 200 && status < 300 }

// AckedBody returns the rule of platforms that want an exact answer body
// (Alipay's "success").
func AckedBody(want string) func(int, string) bool {
	return func(_ int, body string) bool { return body == want }
}

// NewNotifier returns a Notifier that waits schedule[i] before retry i+1
// and treats an answer as acknowledged when acked says so.
func NewNotifier(schedule []time.Duration, acked func(status int, body string) bool) *Notifier {
	ctx, cancel := context.WithCancel(context.Background())
	return &Notifier{
		schedule: schedule, acked: acked, client: &http.Client{Timeout: 10 * time.Second},
		ctx: ctx, cancel: cancel, log: map[string][]Delivery{}, acks: map[string]chan struct{}{},
	}
}

// Send delivers key's notification in the background until acknowledged,
// calling build for every attempt, on the schedule.
func (n *Notifier) Send(key string, build func() (Notification, error)) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ended {
		return
	}
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for i := 0; ; i++ {
			d := n.once(n.ctx, key, build)
			if d.Error == "" && n.acked(d.Status, d.Body) || i >= len(n.schedule) {
				return
			}
			timer := time.NewTimer(n.schedule[i])
			select {
			case <-timer.C:
			case <-n.ctx.Done():
				timer.Stop()
				return
			}
		}
	}()
}

// Now delivers copies of key's notification at once (at least one),
// without retrying, and returns each attempt's record.
func (n *Notifier) Now(ctx context.Context, key string, copies int, build func() (Notification, error)) []Delivery {
	out := make([]Delivery, max(copies, 1))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i] = n.once(ctx, key, build)
		}()
	}
	close(start)
	wg.Wait()
	return out
}

// once builds and posts one attempt and records it.
func (n *Notifier) once(ctx context.Context, key string, build func() (Notification, error)) Delivery {
	d := Delivery{At: time.Now()}
	msg, err := build()
	if err == nil {
		d.ID, d.Nonce, d.Tamper, d.Event = msg.ID, msg.Nonce, msg.Tamper, msg.Event
		var req *http.Request
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, msg.URL, bytes.NewReader(msg.Body))
		if err == nil {
			req.Header = msg.Header
			var resp *http.Response
			resp, err = n.client.Do(req)
			if err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
				resp.Body.Close()
				d.Status, d.Body = resp.StatusCode, string(b)
			}
		}
	}
	if err != nil {
		d.Error = err.Error()
	}
	acked := msg.Genuine && err == nil && n.acked(d.Status, d.Body)
	n.mu.Lock()
	n.log[key] = append(n.log[key], d)
	if acked {
		ch := n.ackLocked(key)
		select {
		case <-ch:
		default:
			close(ch)
		}
	}
	n.mu.Unlock()
	if acked && n.onAck != nil {
		n.onAck(key)
	}
	return d
}

// OnAck makes the Notifier call fn after every acknowledged genuine
// attempt, with its key, so a simulator can forget what was delivered. Set
// it before the first delivery.
func (n *Notifier) OnAck(fn func(key string)) { n.onAck = fn }

// Deliveries returns every attempt made for key, oldest first.
func (n *Notifier) Deliveries(key string) []Delivery {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]Delivery(nil), n.log[key]...)
}

// Acknowledged returns a channel closed once the merchant acknowledged a
// genuine notification of key.
func (n *Notifier) Acknowledged(key string) <-chan struct{} {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.ackLocked(key)
}

func (n *Notifier) ackLocked(key string) chan struct{} {
	ch, ok := n.acks[key]
	if !ok {
		ch = make(chan struct{})
		n.acks[key] = ch
	}
	return ch
}

// Stop ends the deliveries still retrying, waits for them, and sends
// nothing more in the background.
func (n *Notifier) Stop() {
	n.mu.Lock()
	n.ended = true
	n.mu.Unlock()
	n.cancel()
	n.wg.Wait()
}
