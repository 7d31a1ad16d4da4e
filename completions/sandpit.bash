# bash completion for sandpit(1)                          -*- shell-script -*-
#
# Install as $(pkg-config --variable=completionsdir bash-completion)/sandpit,
# or source it from ~/.bashrc. Works with or without the bash-completion
# package. Keep in step with src/cli/*.cpp: tests/e2e/test_docs_drift.py
# checks that every subcommand and long option is offered here.

_sandpit_languages="python py javascript js node typescript ts bash sh"

_sandpit_global_opts="--config -h --help -V --version -w --workspace -l --language --keep-going --no-inline-images"
_sandpit_exec_opts="-h --help -w --workspace -l --language -c --code -p --packages --timeout --fresh --no-wait --json --events"
_sandpit_install_opts="-h --help -w --workspace -l --language --timeout --json"
_sandpit_shell_opts="-h --help -w --workspace --timeout --fresh --no-wait --json --events --"
_sandpit_session_opts="-h --help -w --workspace --json --wait --drain"
_sandpit_session_actions="list info stop restart reset pool"
_sandpit_doctor_opts="-h --help -w --workspace --json"
_sandpit_mcp_opts="-h --help --allow-dir --structured"
_sandpit_serve_opts="-h --help --listen"
_sandpit_upload_opts="-h --help -w --workspace -r --recursive --json"
_sandpit_download_opts="-h --help -w --workspace -r --recursive -f --force --json"
_sandpit_volume_opts="-h --help -f --force --json"
_sandpit_volume_actions="info export import"
_sandpit_filter_opts="-u --user -a --all --since --until -l --language"
_sandpit_audit_opts="-h --help $_sandpit_filter_opts --failed -n --limit --format --json"
_sandpit_stats_opts="-h --help $_sandpit_filter_opts --json"
_sandpit_config_opts="-h --help --json"
_sandpit_config_actions="show check path"

# _sandpit_compreply_files [-d]: files (or with -d, directories) matching $cur.
_sandpit_compreply_files() {
    local IFS=$'\n'
    if [[ $1 == -d ]]; then
        COMPREPLY=($(compgen -d -- "$cur"))
    else
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    compopt -o filenames 2>/dev/null
}

_sandpit() {
    local cur prev words cword
    if declare -F _init_completion >/dev/null 2>&1; then
        _init_completion -s || return
    else
        words=("${COMP_WORDS[@]}")
        cword=$COMP_CWORD
        cur=${COMP_WORDS[COMP_CWORD]}
        prev=${COMP_WORDS[COMP_CWORD - 1]}
        # COMP_WORDBREAKS splits --opt=value into "--opt" "=" "value".
        if [[ $cur == = ]]; then
            cur=
        elif [[ $prev == = && $cword -ge 2 ]]; then
            prev=${COMP_WORDS[COMP_CWORD - 2]}
        fi
        if [[ $cur == --*=* ]]; then
            prev=${cur%%=*}
            cur=${cur#*=}
        fi
    fi

    # Find the subcommand, skipping global options and their values.
    local i command="" command_index=0 after_dashdash=""
    for ((i = 1; i < cword; i++)); do
        case ${words[i]} in
            --config | -w | --workspace | -l | --language) ((i++)) ;;
            --config=*) ;;
            -*) ;;
            exec | shell | install | session | upload | download | volume | audit | stats | config | doctor | mcp | serve)
                command=${words[i]}
                command_index=$i
                break
                ;;
        esac
    done
    if [[ -n $command ]]; then
        for ((i++; i < cword; i++)); do
            [[ ${words[i]} == -- ]] && after_dashdash=1 && break
        done
    fi

    # Values of options.
    if [[ -z $after_dashdash ]]; then
        case $prev in
            --config)
                _sandpit_compreply_files
                return
                ;;
            --listen)
                if [[ $command == serve ]]; then
                    COMPREPLY=($(compgen -W "127.0.0.1:49982 127.0.0.1:0" -- "$cur"))
                    return
                fi
                ;;
            --allow-dir)
                if [[ $command == mcp ]]; then
                    _sandpit_compreply_files -d
                    return
                fi
                ;;
            -w | --workspace)
                if [[ -z $command || $command == exec || $command == shell || $command == install || $command == session || $command == upload || $command == download || $command == doctor ]]; then
                    _sandpit_compreply_files -d
                    return
                fi
                ;;
            -l | --language)
                if [[ -z $command || $command == exec || $command == install || $command == audit || $command == stats ]]; then
                    COMPREPLY=($(compgen -W "$_sandpit_languages" -- "$cur"))
                    return
                fi
                ;;
            --format)
                if [[ $command == audit ]]; then
                    COMPREPLY=($(compgen -W "table line json" -- "$cur"))
                    return
                fi
                ;;
            --since | --until)
                if [[ $command == audit || $command == stats ]]; then
                    COMPREPLY=($(compgen -W "1h 1d 7d" -- "$cur"))
                    return
                fi
                ;;
            -u | --user | -n | --limit)
                [[ $command == audit || $command == stats ]] && return
                ;;
            -c | --code)
                [[ $command == exec ]] && return
                ;;
            --timeout)
                if [[ -n $command && $command != doctor ]]; then
                    COMPREPLY=($(compgen -W "10s 30s 1m 5m" -- "$cur"))
                    return
                fi
                ;;
        esac
    fi

    case $command in
        "")
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_global_opts" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "exec shell install session upload download volume audit stats config doctor mcp serve" -- "$cur"))
            fi
            ;;
        exec)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_exec_opts --config" -- "$cur"))
            else
                _sandpit_compreply_files
            fi
            ;;
        install)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_install_opts --config" -- "$cur"))
            fi
            ;;
        shell)
            if [[ -z $after_dashdash && $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_shell_opts --config" -- "$cur"))
            else
                # The command line runs inside the sandbox: offer host files
                # as a hint (they are not mounted there).
                _sandpit_compreply_files
            fi
            ;;
        session)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_session_opts --config" -- "$cur"))
            else
                # The action is the one positional: offer it until it is given.
                local j action=""
                for ((j = command_index + 1; j < cword; j++)); do
                    case ${words[j - 1]} in
                        -w | --workspace | --config | =) continue ;;
                    esac
                    if [[ ${words[j]} != -* && ${words[j]} != = ]]; then
                        action=${words[j]}
                        break
                    fi
                done
                if [[ -z $action ]]; then
                    COMPREPLY=($(compgen -W "$_sandpit_session_actions" -- "$cur"))
                fi
            fi
            ;;
        upload | download)
            if [[ $cur == -* ]]; then
                local opts=$_sandpit_upload_opts
                [[ $command == download ]] && opts=$_sandpit_download_opts
                COMPREPLY=($(compgen -W "$opts --config" -- "$cur"))
            else
                _sandpit_compreply_files
            fi
            ;;
        volume)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_volume_opts --config" -- "$cur"))
            elif [[ ${words[cword - 1]} == export || ${words[cword - 1]} == import ]]; then
                _sandpit_compreply_files
            else
                COMPREPLY=($(compgen -W "$_sandpit_volume_actions" -- "$cur"))
            fi
            ;;
        audit)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_audit_opts --config" -- "$cur"))
            else
                COMPREPLY=($(compgen -W "verify" -- "$cur"))
            fi
            ;;
        stats)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_stats_opts --config" -- "$cur"))
            fi
            ;;
        config)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_config_opts --config" -- "$cur"))
            elif [[ ${words[cword - 1]} == check ]]; then
                _sandpit_compreply_files
            else
                COMPREPLY=($(compgen -W "$_sandpit_config_actions" -- "$cur"))
            fi
            ;;
        doctor)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_doctor_opts --config" -- "$cur"))
            fi
            ;;
        mcp)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_mcp_opts --config" -- "$cur"))
            fi
            ;;
        serve)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "$_sandpit_serve_opts --config" -- "$cur"))
            fi
            ;;
    esac
} &&
    complete -F _sandpit sandpit

# ex: filetype=sh
