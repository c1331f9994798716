package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/pprof"
	"sync"
	"time"
)

// profile takes a CPU profile of every monitor's server over the
// measurement (from the end of the warmup, for the measured duration) into
// o.pprofDir, as TARGET-PLACEMENT-roundN-memberI.pprof. The function it
// returns waits for them.
func profile(ctx context.Context, monitors []string, o options, col column, round int) func() error {
	if o.pprofDir == "" || len(monitors) == 0 {
		return func() error { return nil }
	}
	errs := make([]error, len(monitors))
	var wg sync.WaitGroup
	for i, m := range monitors {
		wg.Go(func() {
			select {
			case <-time.After(o.warmup):
			case <-ctx.Done():
				return
			}
			url := fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", m, max(1, int(o.duration.Seconds())))
			name := fmt.Sprintf("%s-%s-round%d-member%d.pprof", col.target, col.placement, round, i)
			if err := fetch(ctx, url, filepath.Join(o.pprofDir, name), o.duration+30*time.Second); err != nil {
				errs[i] = fmt.Errorf("profile of member %d: %w", i, err)
			}
		})
	}
	return func() error {
		wg.Wait()
		return errors.Join(errs...)
	}
}

// fetch writes what url answers into file.
func fetch(ctx context.Context, url, file string, limit time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// profileSelf starts a CPU profile of this process into file, when it is
// given; the function it returns stops it and closes the file.
func profileSelf(file string) (stop func(), err error) {
	if file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("profile the load generator: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			logf("profile of the load generator: %v", err)
		}
	}, nil
}
