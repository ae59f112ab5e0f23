package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jedib0t/go-pretty/v6/text"
	"google.golang.org/protobuf/types/known/durationpb"

	v1 "github.com/workflow-runtime/workflow-runtime/gen/workflowruntime/v1"
)

// chartWidth is the length of the longest bar of a histogram, in characters.
const chartWidth = 40

// eighths are the block characters of a bar's last, partial character: 1/8 to 7/8 of a cell.
var eighths = []string{"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"}

// bar draws value out of maxValue as a bar of at most width block characters, to an eighth
// of a character, padded with spaces to width.
func bar(value, maxValue float64, width int) string {
	if maxValue <= 0 || value <= 0 {
		return strings.Repeat(" ", width)
	}
	units := int(value / maxValue * float64(width*8))
	units = max(1, min(units, width*8)) // a bucket that has anything shows something
	full, part := units/8, units%8
	s := strings.Repeat("█", full) + eighths[part]
	cells := full
	if part > 0 {
		cells++
	}
	return s + strings.Repeat(" ", width-cells)
}

// JitterCmd draws how the cron triggers' jitter offsets spread (GetJitterDistribution).
type JitterCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Buckets   uint32   `default:"20" help:"Histogram buckets over the window (at most 1000). Default ${default}."`
	Workflows []string `name:"workflow" placeholder:"ID" help:"Also list the offsets of these workflows' cron triggers; comma-separated or repeated."`
}

// Help implements kong.HelpProvider.
func (*JitterCmd) Help() string {
	return `Each deployed cron trigger fires md5(workflow id) mod window seconds after its cron time. The histogram counts the triggers by offset, as a share of their own window drawn over the most common window; an even spread means the fires of one cron time do not all land at once. Chi-square and max/mean say how even it is (max/mean 1 is perfectly even).

Examples:

    workflow-runtime jitter
    workflow-runtime jitter --buckets 10 --workflow hello,nightly-report
    workflow-runtime jitter -o json | jq .maxOverMean`
}

func (c *JitterCmd) Run(ctx context.Context, env *Env) error {
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetJitterDistribution(ctx, &v1.GetJitterDistributionRequest{BucketCount: c.Buckets, WorkflowIds: c.Workflows})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	p.fields(
		[2]string{"Cron triggers", strconv.FormatInt(res.GetTriggerCount(), 10)},
		[2]string{"Chi-square", strconv.FormatFloat(res.GetChiSquare(), 'f', 2, 64)},
		[2]string{"Max/mean", strconv.FormatFloat(res.GetMaxOverMean(), 'f', 2, 64)},
	)
	var top int64
	for _, b := range res.GetBuckets() {
		top = max(top, b.GetCount())
	}
	if len(res.GetBuckets()) > 0 {
		p.println()
		p.println(fmt.Sprintf("%-17s  %s", "OFFSET", "TRIGGERS"))
	}
	for _, b := range res.GetBuckets() {
		label := fmt.Sprintf("%7s – %-7s", seconds(b.GetStartSeconds()), seconds(b.GetEndSeconds()))
		p.println(label + "  " + p.paint(bar(float64(b.GetCount()), float64(top), chartWidth), text.FgCyan) + " " + strconv.FormatInt(b.GetCount(), 10))
	}
	if len(res.GetOffsets()) > 0 {
		rows := make([][]string, 0, len(res.GetOffsets()))
		for _, o := range res.GetOffsets() {
			rows = append(rows, []string{o.GetWorkflowId(), o.GetTriggerId(), seconds(float64(o.GetOffsetSeconds())), seconds(float64(o.GetWindowSeconds()))})
		}
		p.println()
		p.table([]string{"workflow", "trigger", "offset", "window"}, rows)
	}
	return nil
}

// seconds formats a number of seconds as a duration: 90 -> 1m30s.
func seconds(s float64) string {
	return roundDuration(time.Duration(s * float64(time.Second))).String()
}

// LoadCmd draws the fires projected over a coming window (GetLoadDistribution).
type LoadCmd struct {
	Connection `embed:""`
	Output     `embed:""`

	Start      timeArg       `type:"time" default:"now" help:"Start of the projection: now, +1h, 2026-03-01T12:00. Default ${default}."`
	Window     time.Duration `default:"1h" help:"Length of the projection, 1s to 24h. Default ${default}."`
	Resolution time.Duration `default:"2m" help:"Width of one bar, 1s to 1h. Default ${default}."`
	WhatIf     string        `name:"what-if" placeholder:"FILE|-" predictor:"manifest" help:"Plan a deployment that is not stored: a YAML or JSON file of one deployment, as deploy reads. The answer compares the peaks with and without it and suggests a jitter window."`
	Copies     uint32        `help:"With --what-if: how many such workflows (ids <id>-2, <id>-3, ...), at most 100000. Default 1."`
	Target     float64       `help:"With --what-if: the peak over mean fires per second the suggested jitter window keeps to, at least 1. Default 2."`
}

// Help implements kong.HelpProvider.
func (*LoadCmd) Help() string {
	return `One bar per interval: the fires of the deployed cron triggers with their jitter, and the number there would be without it. Jitter spreads the fires that share a cron time over the trigger's window, so the peak per second drops.

Examples:

    workflow-runtime load
    workflow-runtime load --window 24h --resolution 1h
    workflow-runtime load --start +1h --window 10m --resolution 10s -o json
    workflow-runtime load --what-if workflow.yaml --copies 10000 --target 5`
}

func (c *LoadCmd) Run(ctx context.Context, env *Env) error {
	whatIf, err := c.whatIf(env) // loadwhatif.go
	if err != nil {
		return err
	}
	client, err := c.client()
	if err != nil {
		return err
	}
	res, err := client.GetLoadDistribution(ctx, &v1.GetLoadDistributionRequest{
		StartTime:  c.Start.timestamp(env),
		Window:     durationpb.New(c.Window),
		Resolution: durationpb.New(c.Resolution),
		WhatIf:     whatIf,
	})
	if err != nil {
		return err
	}
	p := newPrinter(env, c.Output.Output)
	if !p.people() {
		return p.message(res)
	}
	p.fields(
		[2]string{"Peak fires/s", fmt.Sprintf("%d (without jitter: %d)", res.GetPeakFiresPerSecond(), res.GetPeakFiresPerSecondWithoutJitter())},
		[2]string{"Mean fires/s", strconv.FormatFloat(res.GetMeanFiresPerSecond(), 'g', 3, 64)},
	)
	if w := res.GetWhatIf(); w != nil {
		c.printWhatIf(p, w)
	}
	var top int64
	for _, b := range res.GetBuckets() {
		top = max(top, b.GetFires(), b.GetFiresWithoutJitter(), b.GetFiresWithWhatIf())
	}
	layout := "15:04:05"
	if c.Window > 12*time.Hour {
		layout = "Mon 15:04"
	}
	if len(res.GetBuckets()) > 0 {
		p.println()
		zone := res.GetBuckets()[0].GetStartTime().AsTime().In(env.Location).Format("MST")
		header := fmt.Sprintf("%-*s  %-*s  %s", len(layout), zone, chartWidth, "FIRES WITH JITTER", "WITHOUT")
		if res.GetWhatIf() != nil {
			header = fmt.Sprintf("%-*s  %-*s %-7s%-7s%s", len(layout), zone, chartWidth, "FIRES WITH THE WHAT-IF", "TOTAL", "STORED", "STORED WITHOUT JITTER")
		}
		p.println(header)
	}
	for _, b := range res.GetBuckets() {
		label := b.GetStartTime().AsTime().In(env.Location).Format(layout)
		if res.GetWhatIf() != nil {
			p.println(label + "  " + p.paint(bar(float64(b.GetFiresWithWhatIf()), float64(top), chartWidth), text.FgYellow) +
				fmt.Sprintf(" %-6d %-6d %d", b.GetFiresWithWhatIf(), b.GetFires(), b.GetFiresWithoutJitter()))
			continue
		}
		p.println(label + "  " + p.paint(bar(float64(b.GetFires()), float64(top), chartWidth), text.FgCyan) +
			fmt.Sprintf(" %-6d %d", b.GetFires(), b.GetFiresWithoutJitter()))
	}
	return nil
}
