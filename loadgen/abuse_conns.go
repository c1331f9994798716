package loadgen

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// attackMaxRead is the largest frame an attacker reads: a report listing
// 100,000 undelivered users, or a delivery of max_frame data, is larger
// than the server's own max_frame.
const attackMaxRead = 64 << 20

// attackDialers bounds the connections an attack opens at once.
const attackDialers = 64

// dial opens connection i of an attack, from its source address.
func (a *AttackConfig) dial(ctx context.Context, i int) (net.Conn, error) {
	d := net.Dialer{Timeout: a.Timeout}
	if len(a.Sources) > 0 {
		d.LocalAddr = &net.TCPAddr{IP: a.Sources[i%len(a.Sources)]}
	}
	conn, err := d.DialContext(ctx, cmp(a.Network, client.DefaultNetwork), a.Address)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	return conn, nil
}

// userName is the name attacker i logs in with.
func (a *AttackConfig) userName(i int) string {
	if a.User != "" {
		return a.User
	}
	return a.UserPrefix + "attacker" + strconv.Itoa(i)
}

// attacker is a logged-in connection: c reads and sends messages, conn
// is written to directly when a frame must be cut short.
type attacker struct {
	conn net.Conn
	c    *client.Client
	user string
}

// login opens connection i and logs in as attacker i in codec.
func (a *AttackConfig) login(ctx context.Context, i int, codec wire.Codec) (*attacker, error) {
	conn, err := a.dial(ctx, i)
	if err != nil {
		return nil, err
	}
	user := a.userName(i)
	c, err := client.Handshake(ctx, conn, client.Options{Network: a.Network, Address: a.Address, Codec: codec,
		Username: user, Password: a.Password, InsecurePlaintext: a.InsecurePlaintext, Timeout: a.Timeout,
		MaxFrame: attackMaxRead})
	if err != nil {
		return nil, err
	}
	return &attacker{conn: conn, c: c, user: user}, nil
}

// loginAll logs in attackers 0 to n-1 in codec, or closes those it
// opened and reports why it could not.
func (a *AttackConfig) loginAll(ctx context.Context, o *Outcome, n int, codec wire.Codec) ([]*attacker, bool) {
	var ats []*attacker
	for i := range n {
		at, err := a.login(ctx, i, codec)
		if err != nil {
			o.failed("login", err)
			for _, at := range ats {
				at.c.Close()
			}
			return nil, false
		}
		o.opened()
		ats = append(ats, at)
	}
	return ats, true
}

// reportKey is the key a report is counted under: label and the code,
// or "good".
func reportKey(label string, code wire.ErrorCode, status string) string {
	switch {
	case status == wire.StatusGood:
		return label + "good"
	case code == "":
		return label + "bad"
	}
	return label + string(code)
}

// receive reads what the server sends at until the connection ends,
// counting deliveries and handing each report's id and key to reported.
func (at *attacker) receive(ctx context.Context, o *Outcome, label string, reported func(id, key string)) {
	for {
		in, err := at.c.Receive()
		if errors.Is(err, client.ErrUndecodable) {
			o.failed("decode", err)
			continue
		}
		if err != nil {
			o.ended(ctx, err)
			return
		}
		switch in.Kind {
		case wire.MessageTypeStatusReport:
			reported(in.ID, reportKey(label, in.Report.Header.Error, in.Report.Header.Status))
		case wire.MessageTypeReceived:
			o.delivered()
		}
	}
}

// listen counts what reaches at until ctx ends.
func (at *attacker) listen(ctx context.Context, o *Outcome, wg *sync.WaitGroup) {
	stop := context.AfterFunc(ctx, func() { at.c.Close() })
	wg.Go(func() {
		defer stop()
		at.receive(ctx, o, "listener ", func(_, key string) { o.report(key, 0) })
	})
}

// flood sends data as a message of type typ on at again and again, with
// at most window messages unreported, until ctx ends; reports are
// counted under label.
func flood(ctx context.Context, o *Outcome, at *attacker, typ string, data []byte, window int, label string) {
	var (
		mu     sync.Mutex
		sentAt = map[string]time.Time{}
		credit = make(chan struct{}, window)
		wg     sync.WaitGroup
	)
	stop := context.AfterFunc(ctx, func() { at.c.Close() })
	defer stop()
	defer func() {
		at.c.Close()
		wg.Wait()
		noteUnreported(o, label, sentAt)
	}()
	wg.Go(func() {
		at.receive(ctx, o, label, func(id, key string) {
			mu.Lock()
			t0, ok := sentAt[id]
			delete(sentAt, id)
			mu.Unlock()
			if !ok {
				o.report(key, 0)
				return
			}
			o.report(key, time.Since(t0))
			<-credit
		})
	})
	for seq := 0; ; seq++ {
		select {
		case <-ctx.Done():
			return
		case credit <- struct{}{}:
		}
		id := strconv.Itoa(seq)
		mu.Lock()
		sentAt[id] = time.Now()
		mu.Unlock()
		if err := at.c.Send(typ, id, wire.RawValue(data)); err != nil {
			if ctx.Err() == nil {
				o.failed("send", err)
			}
			return
		}
		o.sent()
	}
}

// noteUnreported notes the messages of a flood that got no report, and
// how long the oldest waited: a server that stalls on them shows here.
func noteUnreported(o *Outcome, label string, sentAt map[string]time.Time) {
	if len(sentAt) == 0 {
		return
	}
	var oldest time.Time
	for _, t := range sentAt {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	o.note("%s%d message(s) unreported when the attack ended, the oldest sent %s before",
		label, len(sentAt), time.Since(oldest).Round(time.Millisecond))
}

// relayData encodes {"to": to, "body": body} in codec.
func relayData(codec wire.Codec, to, body any) ([]byte, error) {
	b, err := codec.Marshal(map[string]any{"to": to, "body": body})
	if err != nil {
		return nil, fmt.Errorf("encode relay data: %w", err)
	}
	return b, nil
}

// sizedRelayData is relay data to user whose message (with the longest
// id flood gives within a run, as long as "999999") is exactly size bytes:
// the body is padded to fit.
func sizedRelayData(codec wire.Codec, typ, to string, size int) ([]byte, error) {
	const id = "999999"
	n := size
	for range 4 {
		data, err := relayData(codec, to, strings.Repeat("x", max(n, 0)))
		if err != nil {
			return nil, err
		}
		got := len(client.AppendMessage(nil, codec, typ, id, data)) - wire.FrameHeaderSize
		if got == size {
			return data, nil
		}
		n += size - got
	}
	return nil, fmt.Errorf("no relay message of exactly %d bytes in %s", size, codec)
}

// frameHead is a frame's length prefix claiming n bytes of body.
func frameHead(n int) []byte {
	return binary.LittleEndian.AppendUint32(nil, uint32(n))
}

// watch reads what the server writes on a connection the attack wrote to
// directly, counting its reports, until it is closed or ctx ends.
func watch(ctx context.Context, o *Outcome, conn net.Conn) {
	br := bufio.NewReaderSize(conn, 512)
	for {
		body, err := wire.ReadFrame(br, attackMaxRead, nil)
		if err != nil {
			o.ended(ctx, err)
			return
		}
		o.report(frameReportKey(body), 0)
	}
}

// frameReportKey is the report key of a frame read by watch.
func frameReportKey(body []byte) string {
	codec, err := wire.DetectCodec(body)
	var in wire.Incoming
	if err == nil {
		err = codec.UnmarshalMap(body, &in)
	}
	if err != nil || in.Header.MessageType != wire.MessageTypeStatusReport {
		return "other message"
	}
	return reportKey("", in.Header.Error, in.Header.Status)
}

// holdStalled opens n connections with open, watches each, holds them
// until ctx ends and closes them.
func holdStalled(ctx context.Context, o *Outcome, n int, open func(ctx context.Context, i int) (net.Conn, error)) {
	var (
		mu       sync.Mutex
		conns    []net.Conn
		watchers sync.WaitGroup
		openers  sync.WaitGroup
		next     = make(chan int)
	)
	for range min(attackDialers, n) {
		openers.Go(func() {
			for i := range next {
				conn, err := open(ctx, i)
				if err != nil {
					if ctx.Err() == nil {
						o.failed("open", err)
					}
					continue
				}
				o.opened()
				mu.Lock()
				conns = append(conns, conn)
				mu.Unlock()
				watchers.Go(func() { watch(ctx, o, conn) })
			}
		})
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	openers.Wait()
	<-ctx.Done()
	for _, c := range conns {
		c.Close()
	}
	watchers.Wait()
}
