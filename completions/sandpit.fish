# fish completion for sandpit(1). Install as
# ~/.config/fish/completions/sandpit.fish or in $__fish_vendor_completionsdir.
# Keep in step with src/cli/*.cpp: tests/e2e/test_docs_drift.py checks that
# every subcommand and each of its long options is offered here.

set -l commands exec shell install session upload download volume audit stats config doctor mcp serve
set -l volume_actions info export import
set -l config_actions show check path
set -l session_actions list info stop restart reset pool

complete -c sandpit -f

# Global options (before the subcommand; --config is also taken after it).
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s h -l help -d 'Print help and exit'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s V -l version -d 'Print the version and exit'
complete -c sandpit -l config -r -F -d 'Read this config file after the user config'
# The REPL's options (sandpit with no subcommand).
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s w -l workspace -x -a '(__fish_complete_directories)' -d 'REPL: workspace directory'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -s l -l language -x -a 'python py javascript js node typescript ts bash sh' -d 'REPL: the first language'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -l keep-going -d 'REPL batch mode: run every cell, not only those before the first failure'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -l no-inline-images -d 'REPL: announce images by path only'

# Subcommands.
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a exec -d 'Run Python, JavaScript or shell code in the sandbox'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a shell -d 'Run a shell command line in the sandbox, cwd /workspace'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a session -d 'List, inspect, stop, restart or reset workspace sessions'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a upload -d 'Copy a host file or directory into /workspace or /persist'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a download -d 'Copy a file or directory out of /workspace or /persist'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a volume -d 'Show, export or import the per-user volume at /persist'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a audit -d "Show who ran what and whether it worked, or verify the log's hash chain"
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a stats -d 'Execution figures per user and language, from the audit log'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a config -d 'Show the effective config, check a config file, or list the files read'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a doctor -d 'Report which isolation layers and limits are active here'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a mcp -d 'Serve the Model Context Protocol on stdin/stdout (for AI agents)'
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a serve -d "Serve E2B's API over HTTP, so apps written for E2B run here"

# sandpit exec [OPTIONS] [FILE]
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s l -l language -x -a 'python py javascript js node typescript ts bash sh' -d 'Language of the code'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s c -l code -x -d 'The code to run'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -s p -l packages -x -d 'Install these first (pip or npm), unless installed'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l timeout -x -a '10s 30s 1m 5m' -d 'Wall-clock limit, e.g. 10s (default: limits.timeout)'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l fresh -d "Run in a throwaway sandbox instead of the workspace's session"
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l no-wait -d 'Fail with "busy" instead of queueing behind another execution'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l events -d 'Stream JSON events (Jupyter message names), then the result'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -l json -d 'Print one JSON object with the result instead of streaming'
complete -c sandpit -n '__fish_seen_subcommand_from exec' -F -d 'File to run (- for stdin)'

# sandpit shell [OPTIONS] [--] COMMAND...
complete -c sandpit -n '__fish_seen_subcommand_from shell' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l timeout -x -a '10s 30s 1m 5m' -d 'Wall-clock limit, e.g. 10s (default: limits.timeout)'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l fresh -d "Run in a throwaway sandbox instead of the workspace's session"
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l no-wait -d 'Fail with "busy" instead of queueing behind another execution'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l events -d 'Stream JSON events (Jupyter message names), then the result'
complete -c sandpit -n '__fish_seen_subcommand_from shell' -l json -d 'Print one JSON object with the result instead of streaming'

# sandpit session [OPTIONS] ACTION
complete -c sandpit -n '__fish_seen_subcommand_from session' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from session' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from session' -l json -d 'Print JSON'
complete -c sandpit -n '__fish_seen_subcommand_from session' -l wait -d 'pool: fill the pool and wait until it is full'
complete -c sandpit -n '__fish_seen_subcommand_from session' -l drain -d 'pool: stop every ready sandbox'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a list -d 'List the running sessions of every workspace'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a info -d 'Show the session of the workspace'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a stop -d 'Stop the session daemon of the workspace'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a restart -d 'Restart the kernels, dropping interpreter state'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a reset -d 'Restart the kernels and wipe /workspace'
complete -c sandpit -n "__fish_seen_subcommand_from session; and not __fish_seen_subcommand_from $session_actions" -a pool -d 'Show and fill the pool of ready sandboxes'

# sandpit upload [OPTIONS] ...
complete -c sandpit -n '__fish_seen_subcommand_from upload' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from upload' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from upload' -s r -l recursive -d 'Copy a directory and everything in it'
complete -c sandpit -n '__fish_seen_subcommand_from upload' -l json -d 'Print what was copied as JSON (paths, bytes, sha256)'
complete -c sandpit -n '__fish_seen_subcommand_from upload' -F

# sandpit download [OPTIONS] ...
complete -c sandpit -n '__fish_seen_subcommand_from download' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from download' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from download' -s r -l recursive -d 'Copy a directory and everything in it'
complete -c sandpit -n '__fish_seen_subcommand_from download' -l json -d 'Print what was copied as JSON (paths, bytes, sha256)'
complete -c sandpit -n '__fish_seen_subcommand_from download' -s f -l force -d 'Replace existing host files'
complete -c sandpit -n '__fish_seen_subcommand_from download' -F

# sandpit volume [OPTIONS] ACTION [FILE]
complete -c sandpit -n '__fish_seen_subcommand_from volume' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from volume' -s f -l force -d 'export: replace an existing FILE'
complete -c sandpit -n '__fish_seen_subcommand_from volume' -l json -d 'Print JSON'
complete -c sandpit -n "__fish_seen_subcommand_from volume; and not __fish_seen_subcommand_from $volume_actions" -a info -d 'Where the volume lives and what it holds'
complete -c sandpit -n "__fish_seen_subcommand_from volume; and not __fish_seen_subcommand_from $volume_actions" -a export -d 'Write the volume to a tar file'
complete -c sandpit -n "__fish_seen_subcommand_from volume; and not __fish_seen_subcommand_from $volume_actions" -a import -d 'Extract a tar file into the volume'
complete -c sandpit -n "__fish_seen_subcommand_from volume; and __fish_seen_subcommand_from $volume_actions" -F
# sandpit audit [OPTIONS] [verify]
complete -c sandpit -n '__fish_seen_subcommand_from audit' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -s u -l user -x -d 'Records of this user (admins only, unless it is you)'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -s a -l all -d 'Records of every user (admins only)'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -l since -x -a '1h 1d 7d' -d 'From this time on: 2025-01-04, 2025-01-04T19:30Z, or ago like 2h, 7d'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -l until -x -d 'Before this time (same forms as --since)'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -s l -l language -x -a 'python javascript typescript bash' -d 'Only this language'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -l failed -d 'Only failed, blocked, denied or timed-out runs'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -s n -l limit -x -d 'Show the last N matching records (default 50; 0 for all)'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -l format -x -a 'table line json' -d 'Output format'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -l json -d 'Same as --format json'
complete -c sandpit -n '__fish_seen_subcommand_from audit' -a verify -d "Check every record's hash and chain link"

# sandpit stats [OPTIONS]
complete -c sandpit -n '__fish_seen_subcommand_from stats' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -s u -l user -x -d 'Records of this user (admins only, unless it is you)'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -s a -l all -d 'Records of every user (admins only)'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -l since -x -a '1h 1d 7d' -d 'From this time on: 2025-01-04, 2025-01-04T19:30Z, or ago like 2h, 7d'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -l until -x -d 'Before this time (same forms as --since)'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -s l -l language -x -a 'python javascript typescript bash' -d 'Only this language'
complete -c sandpit -n '__fish_seen_subcommand_from stats' -l json -d 'Print JSON'

# sandpit config [OPTIONS] ACTION [FILE]
complete -c sandpit -n '__fish_seen_subcommand_from config' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from config' -l json -d 'Print JSON'
complete -c sandpit -n "__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from $config_actions" -a show -d 'Print every effective setting and where it came from'
complete -c sandpit -n "__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from $config_actions" -a check -d 'Validate a config file'
complete -c sandpit -n "__fish_seen_subcommand_from config; and not __fish_seen_subcommand_from $config_actions" -a path -d 'List the config files read'
complete -c sandpit -n '__fish_seen_subcommand_from config; and contains -- check (commandline -opc)' -F -d 'Config file to check'
# sandpit doctor [OPTIONS]
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from doctor' -l json -d 'Print the checks as JSON'
# sandpit mcp [OPTIONS]
complete -c sandpit -n '__fish_seen_subcommand_from mcp' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from mcp' -l allow-dir -x -a '(__fish_complete_directories)' -d 'Let upload_file and download_file use host_path under DIR'
complete -c sandpit -n '__fish_seen_subcommand_from mcp' -l structured -d 'Declare output schemas and send structuredContent'

# sandpit serve [OPTIONS]
complete -c sandpit -n '__fish_seen_subcommand_from serve' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from serve' -l listen -x -a '127.0.0.1:49982 127.0.0.1:0' -d 'Address to listen on, HOST:PORT (port 0 picks a free one)'

# sandpit install [OPTIONS] NAME...
complete -c sandpit -n "not __fish_seen_subcommand_from $commands" -a install -d 'Install packages into the workspace (pip or npm)'
complete -c sandpit -n '__fish_seen_subcommand_from install' -s h -l help -d 'Print help and exit'
complete -c sandpit -n '__fish_seen_subcommand_from install' -s w -l workspace -x -a '(__fish_complete_directories)' -d 'Workspace directory (default: $SANDPIT_WORKSPACE or .)'
complete -c sandpit -n '__fish_seen_subcommand_from install' -s l -l language -x -a 'python py javascript js node typescript ts' -d 'Whose packages: python (pip) or javascript (npm)'
complete -c sandpit -n '__fish_seen_subcommand_from install' -l timeout -x -a '1m 2m 5m' -d 'Wall-clock limit (default: limits.timeout)'
complete -c sandpit -n '__fish_seen_subcommand_from install' -l json -d 'Print one JSON object with the result'
