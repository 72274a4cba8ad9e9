package sim

import (
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"strconv"

	"github.com/svc-dht/svc-dht/kbucket"
	"github.com/svc-dht/svc-dht/kbucket/asndb"
)

// AddressPlan assigns the IP (and, when known, the ASN) of the i-th node.
// It draws only from rng, so runs stay reproducible.
type AddressPlan interface {
	Assign(i int, rng *rand.Rand) (ip netip.Addr, asn uint32)
}

// PlanFunc adapts a function to AddressPlan.
type PlanFunc func(i int, rng *rand.Rand) (netip.Addr, uint32)

// Assign implements AddressPlan.
func (f PlanFunc) Assign(i int, rng *rand.Rand) (netip.Addr, uint32) { return f(i, rng) }

// RandomIPv4 gives every node a random public (not special-purpose) IPv4
// address and ASN 0. Without a Resolver, routing tables group such peers by
// their /16 prefix, so the population is highly diverse.
type RandomIPv4 struct{}

// Assign implements AddressPlan.
func (RandomIPv4) Assign(_ int, rng *rand.Rand) (netip.Addr, uint32) {
	for {
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], rng.Uint32())
		if a := netip.AddrFrom4(b); b[0] != 0 && b[0] < 224 && !kbucket.IsSpecialPurpose(a) {
			return a, 0
		}
	}
}

// ASNRange is an inclusive address range announced by one ASN.
type ASNRange struct {
	Start, End netip.Addr
	ASN        uint32
}

// ASNPlan draws node addresses from real IP-to-ASN ranges (for example the
// extract in kbucket/asndb/testdata) and provides the matching Resolver, so
// that routing tables see the nodes' real ASNs.
type ASNPlan struct {
	ranges []ASNRange
	byASN  map[uint32][]int
	asns   []uint32
	db     *asndb.DB
}

// LoadASNPlan reads CSV files in the start_ip,end_ip,asn[,org] layout.
func LoadASNPlan(paths ...string) (*ASNPlan, error) {
	var ranges []ASNRange
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, fmt.Errorf("sim: asn plan: %w", err)
		}
		rs, err := readRanges(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("sim: asn plan %s: %w", p, err)
		}
		ranges = append(ranges, rs...)
	}
	return NewASNPlan(ranges)
}

func readRanges(r io.Reader) ([]ASNRange, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	var out []ASNRange
	for line := 1; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(rec) < 3 {
			return nil, fmt.Errorf("line %d: want start,end,asn", line)
		}
		start, err1 := netip.ParseAddr(rec[0])
		end, err2 := netip.ParseAddr(rec[1])
		asn, err3 := strconv.ParseUint(rec[2], 10, 32)
		if err := errors.Join(err1, err2, err3); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, ASNRange{Start: start, End: end, ASN: uint32(asn)})
	}
}

// NewASNPlan builds a plan from ranges (ASN 0 ranges are skipped).
func NewASNPlan(ranges []ASNRange) (*ASNPlan, error) {
	b := asndb.NewBuilder(asndb.Options{})
	p := &ASNPlan{byASN: make(map[uint32][]int)}
	for _, r := range ranges {
		if r.ASN == 0 {
			continue
		}
		if err := b.AddRange(r.Start, r.End, r.ASN); err != nil {
			return nil, fmt.Errorf("sim: asn plan: %w", err)
		}
		if _, ok := p.byASN[r.ASN]; !ok {
			p.asns = append(p.asns, r.ASN)
		}
		p.byASN[r.ASN] = append(p.byASN[r.ASN], len(p.ranges))
		p.ranges = append(p.ranges, r)
	}
	db, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("sim: asn plan: %w", err)
	}
	p.db = db
	slices.Sort(p.asns)
	return p, nil
}

// Resolver is the IP-to-ASN table of the plan's ranges.
func (p *ASNPlan) Resolver() kbucket.Resolver { return p.db }

// ASNs returns the plan's distinct ASNs, ascending.
func (p *ASNPlan) ASNs() []uint32 { return p.asns }

// Assign implements AddressPlan: a uniformly chosen range, a uniformly
// chosen address in it; the ASN is what the Resolver says for it.
func (p *ASNPlan) Assign(_ int, rng *rand.Rand) (netip.Addr, uint32) {
	for {
		r := p.ranges[rng.IntN(len(p.ranges))]
		if a, asn, ok := p.pick(r, rng); ok {
			return a, asn
		}
	}
}

// AddrIn returns a random address announced by asn.
func (p *ASNPlan) AddrIn(asn uint32, rng *rand.Rand) (netip.Addr, bool) {
	idx := p.byASN[asn]
	for range 64 {
		if len(idx) == 0 {
			break
		}
		if a, got, ok := p.pick(p.ranges[idx[rng.IntN(len(idx))]], rng); ok && got == asn {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// pick draws an address of r that is not special-purpose and that the
// Resolver maps to an ASN.
func (p *ASNPlan) pick(r ASNRange, rng *rand.Rand) (netip.Addr, uint32, bool) {
	a := randomIn(r.Start, r.End, rng)
	if kbucket.IsSpecialPurpose(a) {
		return a, 0, false
	}
	asn, ok := p.db.LookupASN(a)
	return a, asn, ok
}

// randomIn returns a uniformly random address in [start, end] (for ranges
// wider than 2^64 addresses, uniform over the first 2^64).
func randomIn(start, end netip.Addr, rng *rand.Rand) netip.Addr {
	if start.Is4() {
		s, e := binary.BigEndian.Uint32(start.AsSlice()), binary.BigEndian.Uint32(end.AsSlice())
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], s+uint32(rng.Uint64N(uint64(e-s)+1)))
		return netip.AddrFrom4(b)
	}
	s16, e16 := start.As16(), end.As16()
	shi, slo := binary.BigEndian.Uint64(s16[:8]), binary.BigEndian.Uint64(s16[8:])
	ehi, elo := binary.BigEndian.Uint64(e16[:8]), binary.BigEndian.Uint64(e16[8:])
	var off uint64
	if ehi == shi && elo-slo != ^uint64(0) {
		off = rng.Uint64N(elo - slo + 1)
	} else {
		off = rng.Uint64()
	}
	lo := slo + off
	hi := shi
	if lo < slo {
		hi++
	}
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], hi)
	binary.BigEndian.PutUint64(b[8:], lo)
	return netip.AddrFrom16(b)
}
