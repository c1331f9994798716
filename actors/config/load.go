package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
)

// diagWidth is the width, in columns, that the detail text of an error is
// wrapped to, so messages read well in a terminal.
const diagWidth = 78

// Load reads and checks the configuration file at path.
func Load(path string) (*Config, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return Parse(path, src)
}

// Parse checks the configuration in src. filename names it in messages and
// its directory is where relative paths start. The error, if any, lists every
// problem found, each with its file, line and source text.
func Parse(filename string, src []byte) (*Config, error) {
	p, raw, parsed, diags := decode(filename, src)
	var cfg *Config
	if parsed {
		start := hcl.Range{Filename: filename, Start: hcl.InitialPos, End: hcl.InitialPos}
		dir, err := filepath.Abs(filepath.Dir(filename))
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Cannot resolve the configuration directory",
				Detail:   err.Error(),
				Subject:  start.Ptr(),
			})
		}
		c := newChecker(diags, start, dir)
		cfg = c.build(raw)
		cfg.Path = filename
		diags = append(diags, c.diags...)
	}
	if diags.HasErrors() {
		return nil, errors.New(render(p, filename, diags))
	}
	return cfg, nil
}

// decode parses src and decodes it into the raw types; parsed is false
// after a syntax error, which leaves raw empty.
func decode(filename string, src []byte) (p *hclparse.Parser, raw *rawFile, parsed bool, diags hcl.Diagnostics) {
	p = hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	raw = &rawFile{}
	if diags.HasErrors() {
		return p, raw, false, diags
	}
	return p, raw, true, append(diags, gohcl.DecodeBody(f.Body, nil, raw)...)
}

// render writes diags in file order, each with its file, line and source
// text.
func render(p *hclparse.Parser, filename string, diags hcl.Diagnostics) string {
	sortByPlace(diags)
	var b strings.Builder
	w := hcl.NewDiagnosticTextWriter(&b, p.Files(), diagWidth, false)
	if err := w.WriteDiagnostics(diags); err != nil {
		return fmt.Sprintf("config %s: %v", filename, diags)
	}
	return strings.TrimRight(b.String(), "\n")
}

// sortByPlace orders problems as they appear in the file, so that an
// operator can fix them from top to bottom.
func sortByPlace(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		if a == nil || b == nil {
			return a == nil && b != nil
		}
		if a.Filename != b.Filename {
			return a.Filename < b.Filename
		}
		return a.Start.Byte < b.Start.Byte
	})
}

// build turns the decoded file into a Config, recording every problem.
func (c *checker) build(raw *rawFile) *Config {
	cfg := &Config{}
	cfg.Server = c.server(raw.Server)
	cfg.Log = c.log(raw.Log)
	cfg.Listeners = c.listeners(raw.Listeners, cfg.Server.RuntimeDir)
	cfg.Handlers = c.handlers(raw.Handlers, cfg.Server.RuntimeDir)
	if raw.Informer != nil {
		cfg.Informer = c.informer(raw.Informer, cfg.Server.RuntimeDir)
	}
	cfg.Peers = c.peers(raw.Peers, cfg.Server.Name)
	cfg.Auth = c.auth(raw.Auth, raw.Listeners, cfg.Listeners)
	cfg.Permissions = c.permissions(raw.Permissions, cfg.Peers)
	if raw.Monitor != nil {
		cfg.Monitor = c.monitor(raw.Monitor, cfg.Handlers)
	}
	if raw.Cluster != nil {
		cfg.Cluster = c.cluster(raw.Cluster)
	}
	c.sockets(raw, cfg)
	return cfg
}
