package main

import (
	"fmt"
	"html"
	"math"
	"strings"
)

// A series is one set of values drawn in one colour.
type series struct {
	name   string
	values []float64 // one per category (bars) or per x (lines)
}

// palette holds the series' colours, distinguishable in colour-blind
// vision (Okabe and Ito).
var palette = [...]string{"#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00"}

// An axis maps values to pixels, linearly or on a log10 scale.
type axis struct {
	lo, hi float64 // the value range
	log    bool
	px     float64 // the length in pixels
}

func (a axis) pos(v float64) float64 {
	if a.log {
		v, lo, hi := math.Log10(math.Max(v, a.lo)), math.Log10(a.lo), math.Log10(a.hi)
		return (v - lo) / (hi - lo) * a.px
	}
	return (v - a.lo) / (a.hi - a.lo) * a.px
}

// ticks returns the tick values: powers of ten on a log scale, else about
// five round steps.
func (a axis) ticks() []float64 {
	var out []float64
	if a.log {
		for e := math.Floor(math.Log10(a.lo)); e <= math.Ceil(math.Log10(a.hi)); e++ {
			if v := math.Pow(10, e); v >= a.lo && v <= a.hi {
				out = append(out, v)
			}
		}
		return out
	}
	step := math.Pow(10, math.Floor(math.Log10((a.hi-a.lo)/5)))
	for _, m := range []float64{1, 2, 5, 10} {
		if (a.hi-a.lo)/(step*m) <= 6 {
			step *= m
			break
		}
	}
	for v := math.Ceil(a.lo/step) * step; v <= a.hi+step/1e6; v += step {
		out = append(out, v)
	}
	return out
}

// logRange returns the powers of ten around the positive values of ss.
func logRange(ss []series) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		for _, v := range s.values {
			if v > 0 {
				lo, hi = math.Min(lo, v), math.Max(hi, v)
			}
		}
	}
	return math.Pow(10, math.Floor(math.Log10(lo))), math.Pow(10, math.Ceil(math.Log10(hi)))
}

func num(v float64) string {
	switch {
	case v >= 1000:
		s := fmt.Sprintf("%.0f", v)
		var b strings.Builder
		for i, r := range s {
			if i > 0 && (len(s)-i)%3 == 0 {
				b.WriteString("\u202f") // a narrow space between thousands
			}
			b.WriteRune(r)
		}
		return b.String()
	case v >= 10 || v == math.Trunc(v):
		return fmt.Sprintf("%.0f", v)
	case v >= 1:
		return fmt.Sprintf("%.1f", v)
	default:
		return fmt.Sprintf("%.2g", v)
	}
}

type canvas struct {
	b    strings.Builder
	w, h float64
}

func (c *canvas) printf(format string, args ...any) { fmt.Fprintf(&c.b, format, args...) }

func (c *canvas) text(x, y float64, anchor, style, s string) {
	c.printf(`<text x="%.1f" y="%.1f" text-anchor="%s"%s>%s</text>`+"\n", x, y, anchor, style, html.EscapeString(s))
}

func (c *canvas) svg(title string) []byte {
	var out strings.Builder
	fmt.Fprintf(&out, `<svg xmlns="http://www.w3.org/2000/svg" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="sans-serif" font-size="12">`+"\n", c.w, c.h, c.w, c.h)
	fmt.Fprintf(&out, "<title>%s</title>\n", html.EscapeString(title))
	fmt.Fprintf(&out, `<rect width="100%%" height="100%%" fill="#ffffff"/>`+"\n")
	out.WriteString(c.b.String())
	out.WriteString("</svg>\n")
	return []byte(out.String())
}

// legend draws the names of ss in a row at y; the first is series number
// first of the chart, which gives its colour.
func (c *canvas) legend(x, y float64, ss []series, first int) {
	for i, s := range ss {
		c.printf(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, palette[(first+i)%len(palette)])
		c.text(x+16, y, "start", "", s.name)
		x += 28 + 7*float64(len([]rune(s.name)))
	}
}

// A barChart is a horizontal bar chart: one group of bars per category,
// one bar per series, with its value written after it.
type barChart struct {
	title, xlabel string
	categories    []string
	series        []series
	log           bool
	lo, hi        float64 // the axis range when not log; hi 0 means from the data
}

func (bc barChart) render() []byte {
	const left, right, top, bar, gap = 330.0, 60.0, 56.0, 13.0, 10.0
	plotW := 760 - left - right
	groupH := bar*float64(len(bc.series)) + gap
	plotH := groupH * float64(len(bc.categories))
	c := &canvas{w: 760, h: top + plotH + 56}
	ax := axis{lo: bc.lo, hi: bc.hi, log: bc.log, px: plotW}
	if bc.log {
		ax.lo, ax.hi = logRange(bc.series)
	} else if ax.hi == 0 {
		for _, s := range bc.series {
			for _, v := range s.values {
				ax.hi = math.Max(ax.hi, v)
			}
		}
	}
	c.text(c.w/2, 20, "middle", ` font-size="14" font-weight="bold"`, bc.title)
	c.legend(left, 42, bc.series, 0)
	for _, t := range ax.ticks() {
		x := left + ax.pos(t)
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", x, top-4, x, top+plotH)
		c.text(x, top+plotH+16, "middle", "", num(t))
	}
	c.text(left+plotW/2, top+plotH+40, "middle", "", bc.xlabel)
	for i, cat := range bc.categories {
		y := top + float64(i)*groupH
		c.text(left-8, y+bar*float64(len(bc.series))/2+4, "end", "", cat)
		for j, s := range bc.series {
			v := s.values[i]
			w := math.Max(ax.pos(v), 1)
			c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>%s: %s</title></rect>`+"\n",
				left, y+float64(j)*bar, w, bar-2, palette[j%len(palette)], html.EscapeString(s.name), num(v))
			c.text(left+w+4, y+float64(j)*bar+bar-3, "start", ` font-size="10"`, num(v))
		}
	}
	c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#333333"/>`+"\n", left, top-4, left, top+plotH)
	return c.svg(bc.title)
}

// A lineChart draws series over a shared x, both axes on a log10 scale.
type lineChart struct {
	title, xlabel, ylabel string
	xs                    []float64
	series                []series
}

func (lc lineChart) render() []byte {
	const left, right, top, plotH = 70.0, 30.0, 80.0, 300.0
	c := &canvas{w: 760, h: top + plotH + 60}
	plotW := c.w - left - right
	xa := axis{lo: lc.xs[0], hi: lc.xs[len(lc.xs)-1], log: true, px: plotW}
	ya := axis{log: true, px: plotH}
	ya.lo, ya.hi = logRange(lc.series)
	c.text(c.w/2, 20, "middle", ` font-size="14" font-weight="bold"`, lc.title)
	c.legend(left, 44, lc.series[:min(2, len(lc.series))], 0)
	if len(lc.series) > 2 {
		c.legend(left, 64, lc.series[2:], 2)
	}
	for _, t := range ya.ticks() {
		y := top + plotH - ya.pos(t)
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", left, y, left+plotW, y)
		c.text(left-6, y+4, "end", "", num(t))
	}
	for _, x := range lc.xs {
		px := left + xa.pos(x)
		c.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#dddddd"/>`+"\n", px, top, px, top+plotH)
		c.text(px, top+plotH+16, "middle", "", num(x))
	}
	c.text(left+plotW/2, top+plotH+40, "middle", "", lc.xlabel)
	c.printf(`<text transform="translate(16 %.1f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", top+plotH/2, html.EscapeString(lc.ylabel))
	for i, s := range lc.series {
		var pts []string
		for j, v := range s.values {
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", left+xa.pos(lc.xs[j]), top+plotH-ya.pos(v)))
		}
		colour := palette[i%len(palette)]
		c.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", strings.Join(pts, " "), colour)
		for j, p := range pts {
			x, y, _ := strings.Cut(p, ",")
			c.printf(`<circle cx="%s" cy="%s" r="3.5" fill="%s"><title>%s, %s: %s</title></circle>`+"\n", x, y, colour, html.EscapeString(s.name), num(lc.xs[j]), num(s.values[j]))
		}
	}
	c.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="none" stroke="#333333"/>`+"\n", left, top, plotW, plotH)
	return c.svg(lc.title)
}
