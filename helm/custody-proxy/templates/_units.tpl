{{- /*
Units the guards and the grace period compute with. Each takes dict "value" and "path" (the value's
place in values.yaml, for the error message) and prints an integer.
*/ -}}

{{- /* A duration as the proxy reads it (500ms, 5s, 1m, 24h, 7d) → whole seconds, rounded up. */ -}}
{{- define "custody-proxy.seconds" -}}
{{- $s := .value | toString | trim -}}
{{- if not (regexMatch "^[0-9]+(ms|s|m|h|d)$" $s) -}}
{{- fail (printf "%s: %q is not a duration (500ms, 30s, 5m, 24h, 7d)" .path $s) -}}
{{- end -}}
{{- $n := regexReplaceAll "[a-z]+$" $s "" | float64 -}}
{{- $factor := get (dict "ms" 0.001 "s" 1 "m" 60 "h" 3600 "d" 86400) (regexReplaceAll "^[0-9]+" $s "") -}}
{{- mulf $n $factor | ceil | int64 -}}
{{- end -}}

{{- /* A size → bytes: Kubernetes quantities (256Mi, 1Gi, 500M, 1G) and the proxy's sizes (256MiB,
1GiB, 512KiB, a bare number of bytes). Binary suffixes are powers of 1024, k/M/G/T of 1000. */ -}}
{{- define "custody-proxy.bytes" -}}
{{- if or (kindIs "float64" .value) (kindIs "int" .value) (kindIs "int64" .value) -}}
{{- .value | int64 -}}
{{- else -}}
{{- $s := .value | toString | trim -}}
{{- if not (regexMatch "^[0-9]+(\\.[0-9]+)?(k|K|M|G|T|Ki|Mi|Gi|Ti)?B?$" $s) -}}
{{- fail (printf "%s: %q is not a size (256Mi, 1Gi, 256MiB, or bytes)" .path $s) -}}
{{- end -}}
{{- $n := regexReplaceAll "[a-zA-Z]+$" $s "" | float64 -}}
{{- $unit := regexReplaceAll "^[0-9.]+" $s "" | trimSuffix "B" -}}
{{- $factors := dict "" 1 "k" 1000 "K" 1000 "M" 1000000 "G" 1000000000 "T" 1000000000000 "Ki" 1024 "Mi" 1048576 "Gi" 1073741824 "Ti" 1099511627776 -}}
{{- mulf $n (get $factors $unit) | floor | int64 -}}
{{- end -}}
{{- end -}}
