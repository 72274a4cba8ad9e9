package metrics

import (
	"bytes"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	vm "github.com/VictoriaMetrics/metrics"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/seeds"
)

// maxSeedSeries and maxGroupSeries bound the series written from sources.
const (
	maxSeedSeries  = 256
	maxGroupSeries = 4096
)

// family is one metric family: its samples are kept by a VictoriaMetrics
// set of its own, or appended at scrape time by write.
type family struct {
	name, help, typ string
	set             *vm.Set
	write           func(b []byte, sc *scrape) []byte
}

// scrape is the state read from the sources once per rendering.
type scrape struct {
	buckets []kbucket.BucketStats
	groups  []GroupCount
	seeds   []seeds.SeedStatus
}

func (m *Metrics) setFamily(name, typ, help string) *vm.Set {
	s := vm.NewSet()
	m.fams = append(m.fams, &family{name: name, help: help, typ: typ, set: s})
	return s
}

func (m *Metrics) histogramFamily(name, help string) *vm.Set {
	return m.setFamily(name, "histogram", help)
}

func (m *Metrics) customFamily(name, typ, help string, write func([]byte, *scrape) []byte) {
	m.fams = append(m.fams, &family{name: name, help: help, typ: typ, write: write})
}

func sortFamilies(f []*family) {
	slices.SortFunc(f, func(a, b *family) int { return strings.Compare(a.name, b.name) })
}

// EnableMetadata turns on the VictoriaMetrics library's process-wide
// "# HELP"/"# TYPE" lines, which gives the Go runtime and process metrics
// of the macronode build their types. This package's own families are
// described either way. It flips a global switch of that library: call it
// from package main only, before serving.
func EnableMetadata() { vm.ExposeMetadata(true) }

// vmMetadataOn reports whether the library writes metadata lines itself.
func vmMetadataOn() bool {
	var c countWriter
	vm.WriteMetadataIfNeeded(&c, "probe", "gauge")
	return c > 0
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) { *c += countWriter(len(p)); return len(p), nil }

// WritePrometheus renders every family in the Prometheus text format
// (version 0.0.4) to w, families in name order, each with its HELP and
// TYPE lines; families without samples are left out. It returns w's
// error.
func (m *Metrics) WritePrometheus(w io.Writer) error {
	sc := m.read()
	strip := vmMetadataOn()
	b := make([]byte, 0, m.sizeHint.Load()+512)
	var tmp bytes.Buffer
	for _, f := range m.fams {
		start := len(b)
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.typ...)
		b = append(b, '\n')
		meta := len(b)
		if f.set != nil {
			tmp.Reset()
			f.set.WritePrometheus(&tmp)
			b = appendSamples(b, tmp.Bytes(), strip)
		} else {
			b = f.write(b, sc)
		}
		if len(b) == meta {
			b = b[:start] // no samples, no family
		}
	}
	if Macronode {
		out := bytes.NewBuffer(b)
		vm.WriteProcessMetrics(out)
		b = out.Bytes()
	}
	m.sizeHint.Store(int64(len(b)))
	_, err := w.Write(b)
	return err
}

// appendSamples appends the sample lines of src (a set's rendering) to b,
// without the library's own comment lines when strip is set.
func appendSamples(b, src []byte, strip bool) []byte {
	if !strip {
		return append(b, src...)
	}
	for len(src) > 0 {
		line := src
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			line, src = src[:i+1], src[i+1:]
		} else {
			src = nil
		}
		if line[0] != '#' {
			b = append(b, line...)
		}
	}
	return b
}

func (m *Metrics) read() *scrape {
	m.mu.Lock()
	bs, ss := m.buckets, m.seedSrc
	m.mu.Unlock()
	sc := &scrape{}
	if bs != nil {
		sc.buckets = bs.Buckets()
		if gs, ok := bs.(BucketGroupSource); ok && Macronode {
			sc.groups = gs.BucketGroups(nil)
		}
	}
	if ss != nil {
		sc.seeds = ss.Status(nil)
	}
	return sc
}

// appendSample appends `name{label="value"} v`.
func appendSample(b []byte, name, label, value string, v float64) []byte {
	b = append(b, name...)
	b = append(b, '{')
	b = append(b, label...)
	b = append(b, `="`...)
	b = appendLabelValue(b, value)
	b = append(b, `"} `...)
	return appendFloat(b, v)
}

func appendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	case math.IsInf(v, 1):
		b = append(b, "+Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}

func appendBucketSample(b []byte, name string, bucket int, v float64) []byte {
	b = append(b, name...)
	b = append(b, `{bucket="`...)
	b = strconv.AppendInt(b, int64(bucket), 10)
	b = append(b, `"} `...)
	return appendFloat(b, v)
}

func writeOccupancy(b []byte, sc *scrape) []byte {
	for i := range sc.buckets {
		if s := &sc.buckets[i]; s.Occupancy > 0 {
			b = appendBucketSample(b, "dht_bucket_occupancy", s.Index, float64(s.Occupancy))
		}
	}
	return b
}

func writeEntropy(b []byte, sc *scrape) []byte {
	for i := range sc.buckets {
		if s := &sc.buckets[i]; s.Occupancy > 0 {
			b = appendBucketSample(b, "dht_bucket_asn_entropy_bits", s.Index, s.EntropyBits)
		}
	}
	return b
}

func writeMaxPct(b []byte, sc *scrape) []byte {
	for i := range sc.buckets {
		if s := &sc.buckets[i]; s.Occupancy > 0 {
			b = appendBucketSample(b, "dht_bucket_asn_max_pct", s.Index, s.MaxASNPct)
		}
	}
	return b
}

func writeCached(b []byte, sc *scrape) []byte {
	for i := range sc.buckets {
		if s := &sc.buckets[i]; s.Occupancy > 0 || s.Cached > 0 {
			b = appendBucketSample(b, "dht_bucket_cached", s.Index, float64(s.Cached))
		}
	}
	return b
}

func writeLowDiversity(b []byte, sc *scrape) []byte {
	if sc.buckets == nil {
		return b
	}
	n := 0
	for i := range sc.buckets {
		if sc.buckets[i].LowDiversity {
			n++
		}
	}
	b = append(b, "dht_bucket_low_diversity_buckets "...)
	return appendFloat(b, float64(n))
}

func writeGroups(b []byte, sc *scrape) []byte {
	for i, g := range sc.groups {
		if i == maxGroupSeries {
			break
		}
		if g.Peers <= 0 {
			continue
		}
		b = append(b, `dht_bucket_asn_peers{bucket="`...)
		b = strconv.AppendInt(b, int64(g.Bucket), 10)
		b = append(b, `",asn="`...)
		b = appendLabelValue(b, g.Group.String())
		b = append(b, `"} `...)
		b = appendFloat(b, float64(g.Peers))
	}
	return b
}

func writeSeeds(b []byte, sc *scrape) []byte {
	for i := range sc.seeds {
		if i == maxSeedSeries {
			break
		}
		v := 0.0
		if sc.seeds[i].Up {
			v = 1
		}
		b = appendSample(b, "dht_bootstrap_seeds_up", "seed", sc.seeds[i].Seed.Addr, v)
	}
	return b
}

func (m *Metrics) writeFirstDial(b []byte, _ *scrape) []byte {
	if !m.firstDialKnown.Load() {
		return b
	}
	b = append(b, "dht_boot_first_dial_seconds "...)
	return appendFloat(b, math.Float64frombits(m.firstDial.Load()))
}
