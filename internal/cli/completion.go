package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/alecthomas/kong"
	"github.com/posener/complete"
	"github.com/willabides/kongplete"
)

// Shell completion: the shell runs the binary itself with COMP_LINE set to the line typed
// (bash's `complete -C`, and zsh's and fish's equivalents); Complete answers from the command
// line's own model (kongplete), so completions cannot drift from the commands and flags.

// Complete answers a completion request and exits when the process was started for one
// (COMP_LINE is set); otherwise it returns at once. Call it before parsing.
func Complete(parser *kong.Kong) {
	kongplete.Complete(parser, kongplete.WithPredictors(predictors))
}

// predictors complete the flags tagged predictor:"name".
var predictors = map[string]complete.Predictor{
	"file":     complete.PredictFiles("*"),
	"manifest": complete.PredictOr(complete.PredictFiles("*.yaml"), complete.PredictFiles("*.yml"), complete.PredictFiles("*.json")),
}

// CompletionCmd prints the script that hooks the binary into a shell's completion.
type CompletionCmd struct {
	Shell string `arg:"" enum:"bash,zsh,fish" help:"The shell: bash, zsh or fish."`
}

// Help implements kong.HelpProvider.
func (*CompletionCmd) Help() string {
	return `The script makes the shell ask the binary itself for completions of commands, flags and their values. Load it in the shell's start-up file.

Examples:

    source <(workflow-runtime completion bash)        # in ~/.bashrc
    source <(workflow-runtime completion zsh)         # in ~/.zshrc
    workflow-runtime completion fish | source         # in ~/.config/fish/config.fish`
}

func (c *CompletionCmd) Run(_ context.Context, env *Env, kctx *kong.Context) error {
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find this program: %w", err)
	}
	if abs, err := filepath.EvalSymlinks(bin); err == nil {
		bin = abs
	}
	name := kctx.Model.Name
	_, err = fmt.Fprint(env.Stdout, completionScript(c.Shell, name, bin))
	return err
}

// completionScript is the script of shell for the command name, answered by the binary bin.
func completionScript(shell, name, bin string) string {
	switch shell {
	case "zsh":
		return fmt.Sprintf("autoload -U +X bashcompinit && bashcompinit\ncomplete -o nospace -C %q %s\n", bin, name)
	case "fish":
		return fmt.Sprintf(`function __complete_%[1]s
    set -lx COMP_LINE (commandline -cp)
    test -z (commandline -ct)
    and set COMP_LINE "$COMP_LINE "
    %[2]q
end
complete -f -c %[1]s -a "(__complete_%[1]s)"
`, name, bin)
	}
	return fmt.Sprintf("complete -C %q %s\n", bin, name)
}
