package loadgen

import (
	"context"
	"crypto/rand"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/bester-project/bester/wire"
	"github.com/bester-project/bester/wire/client"
)

// Shapes of the attacks.
const (
	preloginWaves     = 2
	nonreaderBody     = 500_000
	nonreaderWindow   = 4
	bigintDigits      = 1_000_000
	DefaultNames      = 100_000
	bigFrameWindow    = 2
	headroomShortfall = 40
	// floodDrainTime bounds reading what a non-reading connection has
	// waiting, at the end, to learn whether the server closed it.
	floodDrainTime = 2 * time.Second
	// connfloodReadTime bounds the wait for the server to answer and
	// close a flooding connection.
	connfloodReadTime = 5 * time.Second
)

// attackPrelogin holds connections that never finish their first frame,
// in waves: the server should neither allocate what their headers claim
// nor keep the memory once they are gone.
func attackPrelogin(ctx context.Context, a *AttackConfig, o *Outcome) {
	stalled := append(frameHead(a.MaxFrame), '{')
	for wave := range preloginWaves {
		wctx, cancel := context.WithTimeout(ctx, a.Duration/preloginWaves)
		holdStalled(wctx, o, a.Conns, func(ctx context.Context, i int) (net.Conn, error) {
			conn, err := a.dial(ctx, wave*a.Conns+i)
			if err != nil {
				return nil, err
			}
			return conn, writeOrClose(conn, stalled)
		})
		cancel()
		if ctx.Err() != nil {
			return
		}
	}
}

// writeOrClose writes b to conn, closing it when that fails.
func writeOrClose(conn net.Conn, b []byte) error {
	if _, err := conn.Write(b); err != nil {
		conn.Close()
		return err
	}
	return nil
}

// attackAfterlogin holds logged-in connections that stall in the middle
// of a frame claiming max_frame bytes.
func attackAfterlogin(ctx context.Context, a *AttackConfig, o *Outcome) {
	stalled := append(frameHead(a.MaxFrame), `{"payload":`...)
	if a.Codec != wire.CodecJSON {
		stalled = append(frameHead(a.MaxFrame), "\xa1\x67payload"...)
	}
	holdStalled(ctx, o, a.Conns, func(ctx context.Context, i int) (net.Conn, error) {
		at, err := a.login(ctx, i, a.Codec)
		if err != nil {
			return nil, err
		}
		return at.conn, writeOrClose(at.conn, stalled)
	})
}

// attackNonreader sends large messages to a client that never reads:
// the server should drop that client, not buffer without bound or slow
// anyone else.
func attackNonreader(ctx context.Context, a *AttackConfig, o *Outcome) {
	ats, ok := a.loginAll(ctx, o, 2, a.Codec)
	if !ok {
		return
	}
	victim, sender := ats[0], ats[1]
	if tc, ok := victim.conn.(*net.TCPConn); ok {
		_ = tc.SetReadBuffer(4 << 10) // fill up sooner
	}
	data, err := relayData(a.Codec, victim.user, strings.Repeat("x", nonreaderBody))
	if err != nil {
		o.failed("encode", err)
		return
	}
	flood(ctx, o, sender, a.Type, data, nonreaderWindow, "")
	noteNonreaderFate(o, victim.conn)
	victim.c.Close()
}

// noteNonreaderFate reads what waits for the non-reading client, for a
// short while, to learn whether the server closed its connection.
func noteNonreaderFate(o *Outcome, conn net.Conn) {
	_ = conn.SetReadDeadline(time.Now().Add(floodDrainTime))
	buf := make([]byte, 64<<10)
	var waiting int64
	for {
		n, err := conn.Read(buf)
		waiting += int64(n)
		switch {
		case err == nil:
			continue
		case closedByPeer(err):
			o.mu.Lock()
			o.ClosedByServer++
			o.mu.Unlock()
			o.note("the server closed the non-reading client's connection (%s were waiting in it)", Bytes(float64(waiting)))
		default:
			o.note("the non-reading client's connection was still open at the end, with at least %s waiting", Bytes(float64(waiting)))
		}
		return
	}
}

// attackBigint relays JSON data holding an integer of a million digits:
// converting it for a CBOR handler or recipient must not take the server
// long.
func attackBigint(ctx context.Context, a *AttackConfig, o *Outcome) {
	ats, ok := a.loginAll(ctx, o, 1, wire.CodecJSON)
	if !ok {
		return
	}
	at := ats[0]
	digits := bigintDigits
	head := `{"to":` + strconv.Quote(at.user) + `,"body":`
	room := a.MaxFrame - (len(client.AppendMessage(nil, wire.CodecJSON, a.Type, "999999", []byte(head+"1}"))) -
		wire.FrameHeaderSize - 1)
	if room < digits {
		o.note("max_frame leaves room for %s digits, not %s", Thousands(uint64(room)), Thousands(bigintDigits))
		digits = room
	}
	data := head + "1" + strings.Repeat("0", max(digits-1, 0)) + "}"
	flood(ctx, o, at, a.Type, []byte(data), 1, "")
}

// attackBignames relays messages naming a great many users.
func attackBignames(ctx context.Context, a *AttackConfig, o *Outcome) {
	ats, ok := a.loginAll(ctx, o, 1, a.Codec)
	if !ok {
		return
	}
	names := make([]string, cmp(a.Names, DefaultNames))
	for i := range names {
		names[i] = "n" + strconv.FormatInt(int64(i), 36)
	}
	data, err := relayData(a.Codec, names, "x")
	if err != nil {
		o.failed("encode", err)
		return
	}
	if n := len(client.AppendMessage(nil, a.Codec, a.Type, "999999", data)) - wire.FrameHeaderSize; n > a.MaxFrame {
		o.note("a message naming %s users is %s bytes, more than max_frame", Thousands(uint64(len(names))), Thousands(uint64(n)))
	}
	flood(ctx, o, ats[0], a.Type, data, 1, "")
}

// attackMaxframe relays messages of exactly max_frame bytes.
func attackMaxframe(ctx context.Context, a *AttackConfig, o *Outcome) {
	relayBigFrames(ctx, a, o, a.MaxFrame)
}

// attackHeadroom relays messages just short of max_frame, so that what
// the server adds on the way (a request's header, a delivery's sender)
// takes them over the limit.
func attackHeadroom(ctx context.Context, a *AttackConfig, o *Outcome) {
	relayBigFrames(ctx, a, o, a.MaxFrame-headroomShortfall)
}

// relayBigFrames relays messages of size bytes to a listening client.
func relayBigFrames(ctx context.Context, a *AttackConfig, o *Outcome, size int) {
	ats, ok := a.loginAll(ctx, o, 2, a.Codec)
	if !ok {
		return
	}
	listener, sender := ats[0], ats[1]
	data, err := sizedRelayData(a.Codec, a.Type, listener.user, size)
	if err != nil {
		o.failed("encode", err)
		listener.c.Close()
		sender.c.Close()
		return
	}
	var wg sync.WaitGroup
	listener.listen(ctx, o, &wg)
	flood(ctx, o, sender, a.Type, data, bigFrameWindow, "")
	wg.Wait()
}

// attackLoginstorm logs in with wrong passwords from many workers at
// once, again and again.
func attackLoginstorm(ctx context.Context, a *AttackConfig, o *Outcome) {
	var wg sync.WaitGroup
	for w := range a.Conns {
		wg.Go(func() {
			wrong := *a
			wrong.User, wrong.Password = a.UserPrefix+"intruder"+strconv.Itoa(w), "wrong-"+rand.Text()
			wrong.InsecurePlaintext = true // a random wrong password has nothing to hide
			for i := w; ctx.Err() == nil; i += a.Conns {
				tryWrongLogin(ctx, &wrong, o, i)
			}
		})
	}
	wg.Wait()
}

// tryWrongLogin makes one login that should fail and counts how it
// ended.
func tryWrongLogin(ctx context.Context, a *AttackConfig, o *Outcome, i int) {
	t0 := time.Now()
	at, err := a.login(ctx, i, a.Codec)
	var werr *wire.Error
	switch {
	case err == nil:
		o.report("accepted (open authentication?)", time.Since(t0))
		at.c.Close()
	case errors.As(err, &werr):
		o.report(string(werr.Code), time.Since(t0))
	case ctx.Err() != nil:
	case closedByPeer(err):
		o.ended(ctx, err)
	default:
		o.failed("login", err)
	}
}

// connfloodFrame is neither JSON nor CBOR: the server should answer
// unauthorized and close.
var connfloodFrame = append(frameHead(16), strings.Repeat("\xff", 16)...)

// attackConnflood opens connections that fail as fast as it can.
func attackConnflood(ctx context.Context, a *AttackConfig, o *Outcome) {
	var wg sync.WaitGroup
	for w := range a.Conns {
		wg.Go(func() {
			for i := w; ctx.Err() == nil; i += a.Conns {
				failOnce(ctx, a, o, i)
			}
		})
	}
	wg.Wait()
	o.mu.Lock()
	opened := o.Opened
	o.mu.Unlock()
	o.note("%s connections opened per second", Thousands(uint64(float64(opened)/a.Duration.Seconds())))
}

// failOnce opens one connection, sends garbage and reads until the
// server closes it.
func failOnce(ctx context.Context, a *AttackConfig, o *Outcome, i int) {
	conn, err := a.dial(ctx, i)
	if err != nil {
		if ctx.Err() == nil {
			o.failed("open", err)
		}
		return
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	o.opened()
	if err := writeOrClose(conn, connfloodFrame); err != nil {
		o.ended(ctx, err)
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(connfloodReadTime))
	watch(ctx, o, conn)
}

// attackUTF8 relays data holding invalid UTF-8, in the body and in the
// recipient's name, in both codecs; reports are counted by codec and
// place.
func attackUTF8(ctx context.Context, a *AttackConfig, o *Outcome) {
	var wg sync.WaitGroup
	i := 0
	for _, codec := range []wire.Codec{wire.CodecCBOR, wire.CodecJSON} {
		for _, where := range []string{"body", "to"} {
			at, err := a.login(ctx, i, codec)
			i++
			if err != nil {
				o.failed("login", err)
				continue
			}
			o.opened()
			data := invalidUTF8Data(codec, at.user, where == "to")
			wg.Go(func() { flood(ctx, o, at, a.Type, data, 1, codec.String()+" "+where+": ") })
		}
	}
	wg.Wait()
}

// invalidUTF8Data is relay data to user with invalid UTF-8 in the body,
// or in the name when inName is set.
func invalidUTF8Data(codec wire.Codec, user string, inName bool) []byte {
	const bad = "\xff\xfe"
	to, body := user, "ab"+bad+"cd"
	if inName {
		to, body = user+bad, "abcd"
	}
	if codec == wire.CodecJSON {
		return []byte(`{"to":"` + to + `","body":"` + body + `"}`)
	}
	b := []byte{0xa2, 0x62, 't', 'o'}
	b = append(wire.AppendCBORTextHead(b, len(to)), to...)
	b = append(b, 0x64, 'b', 'o', 'd', 'y')
	return append(wire.AppendCBORTextHead(b, len(body)), body...)
}
