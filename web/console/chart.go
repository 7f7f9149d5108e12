package console

import (
	"bytes"
	"fmt"
	"image/color"
	"sort"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgsvg"
)

// Charts are drawn on the server as SVG (gonum/plot), served from an authenticated route
// and shown with <img>: no script, no external asset.

// maxBars bounds the bars of one chart.
const maxBars = 62

var (
	barColor     = color.RGBA{R: 0x1f, G: 0x5f, B: 0x99, A: 0xff}
	refusedColor = color.RGBA{R: 0xc0, G: 0x39, B: 0x2b, A: 0xff}
)

// seriesChart draws payments and refusals per point of the period as bars.
func seriesChart(title, refusedLabel string, pts []Point) ([]byte, error) {
	if len(pts) > maxBars {
		pts = pts[len(pts)-maxBars:]
	}
	ok, refused := make(plotter.Values, len(pts)), make(plotter.Values, len(pts))
	labels := make([]string, len(pts))
	for i, p := range pts {
		ok[i], refused[i], labels[i] = float64(p.Payments), float64(p.Refused), p.Label
	}
	p := newPlot(title)
	w := vg.Points(max(2, 260/float64(max(1, len(pts)))))
	paid, err := plotter.NewBarChart(ok, w)
	if err != nil {
		return nil, err
	}
	paid.Color, paid.LineStyle.Width = barColor, 0
	ref, err := plotter.NewBarChart(refused, w)
	if err != nil {
		return nil, err
	}
	ref.Color, ref.LineStyle.Width = refusedColor, 0
	ref.StackOn(paid)
	p.Add(paid, ref)
	p.Legend.Add(title, paid)
	p.Legend.Add(refusedLabel, ref)
	p.Legend.Top, p.Legend.Left = true, true
	p.Legend.XOffs = vg.Points(30)
	p.NominalX(thin(labels)...)
	return render(p)
}

// countsChart draws counts by name (refusals by reason) as horizontal-label bars, the
// largest first.
func countsChart(title string, counts map[string]int64) ([]byte, error) {
	names := make([]string, 0, len(counts))
	for k := range counts {
		names = append(names, k)
	}
	sort.Slice(names, func(i, j int) bool {
		if counts[names[i]] != counts[names[j]] {
			return counts[names[i]] > counts[names[j]]
		}
		return names[i] < names[j]
	})
	if len(names) > 12 {
		names = names[:12]
	}
	vals := make(plotter.Values, len(names))
	for i, n := range names {
		vals[i] = float64(counts[n])
	}
	p := newPlot(title)
	if len(vals) == 0 {
		vals, names = plotter.Values{0}, []string{"none"}
	}
	bars, err := plotter.NewBarChart(vals, vg.Points(18))
	if err != nil {
		return nil, err
	}
	bars.Color, bars.LineStyle.Width = refusedColor, 0
	p.Add(bars)
	p.NominalX(names...)
	p.X.Tick.Label.Rotation = 0.6
	p.X.Tick.Label.XAlign, p.X.Tick.Label.YAlign = draw.XRight, draw.YCenter
	return render(p)
}

func newPlot(title string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Y.Min = 0
	p.Y.Tick.Marker = intTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// render writes the plot as an SVG document.
func render(p *plot.Plot) ([]byte, error) {
	c := vgsvg.New(6*vg.Inch, 3*vg.Inch)
	p.Draw(draw.New(c))
	var b bytes.Buffer
	if _, err := c.WriteTo(&b); err != nil {
		return nil, fmt.Errorf("chart: %w", err)
	}
	return b.Bytes(), nil
}

// thin keeps about 12 of the labels so that they stay readable.
func thin(labels []string) []string {
	step := max(1, (len(labels)+11)/12)
	out := make([]string, len(labels))
	for i, l := range labels {
		if i%step == 0 {
			out[i] = l
		}
	}
	return out
}

// intTicks marks whole numbers only (counts have no fractions).
type intTicks struct{}

func (intTicks) Ticks(lo, hi float64) []plot.Tick {
	var out []plot.Tick
	for _, t := range (plot.DefaultTicks{}).Ticks(lo, hi) {
		if t.Value == float64(int64(t.Value)) {
			if t.Label != "" {
				t.Label = strconv.FormatInt(int64(t.Value), 10)
			}
			out = append(out, t)
		}
	}
	return out
}
