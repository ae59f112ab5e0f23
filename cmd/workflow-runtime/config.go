package main

import (
	"bytes"
	"fmt"
	"os"

	"github.com/alecthomas/kong"

	"github.com/workflow-runtime/workflow-runtime/internal/config"
)

// configCmd is about the settings themselves.
type configCmd struct {
	Docs configDocsCmd `cmd:"" help:"Print the configuration reference (docs/configuration.md): every setting of serve and migrate with its variable, flag, type, default and meaning."`
}

// Help implements kong.HelpProvider.
func (*configCmd) Help() string {
	return `Examples:

    workflow-runtime config docs --format=json`
}

// configDocsCmd writes the reference made from this binary's own command line
// (config.NewReference), so the documentation cannot drift from the flags:
// scripts/generate.sh writes docs/configuration.md and the README's table with it, and
// scripts/check-generated.sh fails when they are stale.
type configDocsCmd struct {
	Format string `default:"markdown" enum:"markdown,json,summary" help:"markdown: docs/configuration.md; json: the same for programs; summary: the README's table of the main settings. Default ${default}."`
	Output string `short:"o" placeholder:"PATH" help:"Write to this file instead of stdout."`
	Splice bool   `help:"Replace only the lines between <!-- config:begin --> and <!-- config:end --> in --output (how the README carries the summary)."`
}

// Help implements kong.HelpProvider.
func (*configDocsCmd) Help() string {
	return `Examples:

    workflow-runtime config docs -o docs/configuration.md
    workflow-runtime config docs --format=summary --splice -o README.md`
}

func (c *configDocsCmd) Run(kctx *kong.Context) error {
	ref, err := config.NewReference(kctx.Model)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	switch c.Format {
	case "json":
		err = ref.JSON(&out)
	case "summary":
		err = ref.Summary(&out, "docs/configuration.md")
	default:
		err = ref.Markdown(&out)
	}
	if err != nil {
		return err
	}
	if c.Output == "" {
		if c.Splice {
			return fmt.Errorf("--splice needs --output, the file to splice into")
		}
		_, err := os.Stdout.Write(out.Bytes())
		return err
	}
	text := out.String()
	if c.Splice {
		doc, err := os.ReadFile(c.Output)
		if err != nil {
			return err
		}
		if text, err = config.Splice(string(doc), text); err != nil {
			return fmt.Errorf("%s: %w", c.Output, err)
		}
	}
	return os.WriteFile(c.Output, []byte(text), 0o644) //nolint:gosec // documentation, world-readable like the repository
}
