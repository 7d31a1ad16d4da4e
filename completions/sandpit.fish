# fish completion for sandpit(1). Install as
# ~/.config/fish/completions/sandpit.fish or in $__fish_vendor_completionsdir.
# Keep in step with src/cli/*.cpp: tests/e2e/test_docs_drift.py checks that
# every subcommand and each of its long options is offered here.

set -l commands exec shell doctor

complete -c sandpit -f

# Global options (before the subcommand; --config is also taken after it).
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Print help and exit'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Print the version and exit'
complete -c sandpit -l config -r -F -d 'Read this config file after the user config'

# Subcommands.
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a exec -d 'Run Python, JavaScript or shell code in the sandbox'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a shell -d 'Run a shell command line in the sandbox, cwd /workspace'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'Report which isolation layers and limits are active here'

# sandpit exec [OPTIONS] [FILE]
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s l -l language -x -a 'python py javascript js node bash sh' -d 'Language of the code'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s c -l code -x -d 'The code to run'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l timeout -x -a '10s 30s 1m 5m' -d 'Wall-clock limit, e.g. 10s (default: limits.timeout)'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l fresh -d 'Run in a throwaway sandbox that is torn down afterwards'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l json -d 'Print one JSON object with the result instead of streaming'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -F -d 'File to run (- for stdin)'

# sandpit shell [OPTIONS] [--] COMMAND...
complete -c sandpit -n '__fish_seen_subcommand_from shell' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l timeout -x -a '10s 30s 1m 5m' -d 'Wall-clock limit, e.g. 10s (default: limits.timeout)'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l fresh -d 'Run in a throwaway sandbox that is torn down afterwards'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l json -d 'Print one JSON object with the result instead of streaming'

# sandpit doctor [OPTIONS]
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -l json -d 'Print the checks as JSON'
