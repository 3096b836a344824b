{{/* Names: the chart name, or nameOverride; a full name unique in the namespace, 63 chars max. */}}
{{- define "orderquery.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "orderquery.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* Component names: leave room for the suffix within 63 chars. */}}
{{- define "orderquery.server.fullname" -}}
{{- include "orderquery.fullname" . | trunc 56 | trimSuffix "-" -}}
{{- end -}}
{{- define "orderquery.gateway.fullname" -}}
{{- printf "%s-gateway" (include "orderquery.fullname" . | trunc 55 | trimSuffix "-") -}}
{{- end -}}

{{- define "orderquery.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Labels shared by every object. */}}
{{- define "orderquery.labels" -}}
helm.sh/chart: {{ include "orderquery.chart" . }}
app.kubernetes.io/name: {{ include "orderquery.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: orderquery
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* Selector labels of one component: (dict "ctx" $ "component" "server"). Never change them:
     a Deployment's selector is immutable. */}}
{{- define "orderquery.selectorLabels" -}}
app.kubernetes.io/name: {{ include "orderquery.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "orderquery.componentLabels" -}}
{{ include "orderquery.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "orderquery.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "orderquery.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "orderquery.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}

{{/* Where secrets and config land in the pods. */}}
{{- define "orderquery.configDir" -}}/etc/orderquery{{- end -}}
{{- define "orderquery.tlsDir" -}}/etc/orderquery/tls{{- end -}}

{{/* terminationGracePeriodSeconds of orderqueryd, derived from shutdown_grace_ms: the preStop
     sleep, then the grace orderqueryd gives in-flight calls (rounded up to a second), then the
     drain and teardown margin. */}}
{{- define "orderquery.server.terminationGrace" -}}
{{- $graceMs := int .Values.server.config.shutdown_grace_ms -}}
{{- $graceS := div (add $graceMs 999) 1000 -}}
{{- add (int .Values.server.drain.preStopSleepSeconds) $graceS (int .Values.server.drain.extraSeconds) -}}
{{- end -}}

{{/* Startup probe failures allowed: orderqueryd waits up to db.startup_timeout_ms for the
     database before it listens; give it that long plus 10 s. */}}
{{- define "orderquery.server.startupFailureThreshold" -}}
{{- $ms := int .Values.server.config.db.startup_timeout_ms -}}
{{- $period := int .Values.server.probes.startupPeriodSeconds -}}
{{- add (div (add (div (add $ms 999) 1000) 10) $period) 1 -}}
{{- end -}}

{{/* orderqueryd's config.json: the operator's keys from server.config, then what the chart owns
     (listen addresses, database location, TLS files, merchants), then server.extraConfig.
     Secrets are not here: the DB password is an env var from a Secret, keys are files. */}}
{{- define "orderquery.server.config" -}}
{{- $c := deepCopy .Values.server.config -}}
{{- $_ := set $c "listen" (printf "0.0.0.0:%d" (int .Values.server.ports.grpc)) -}}
{{- if .Values.server.notify.enabled -}}
{{- $_ := set $c "notify" (dict "listen" (printf "0.0.0.0:%d" (int .Values.server.ports.notify))) -}}
{{- end -}}
{{- if .Values.server.metrics.enabled -}}
{{- $_ := set $c "admin" (dict "listen" (printf "0.0.0.0:%d" (int .Values.server.ports.admin))) -}}
{{- end -}}
{{- $db := default dict (get $c "db") -}}
{{- $_ := set $db "host" (tpl .Values.db.host .) -}}
{{- $_ := set $db "port" (int .Values.db.port) -}}
{{- $_ := set $db "user" .Values.db.user -}}
{{- $_ := set $db "database" .Values.db.database -}}
{{- $_ := set $c "db" $db -}}
{{- if .Values.tls.enabled -}}
{{- $tlsDir := include "orderquery.tlsDir" . -}}
{{- $tls := dict "cert_file" (printf "%s/tls.crt" $tlsDir) "key_file" (printf "%s/tls.key" $tlsDir) -}}
{{- if .Values.tls.mutual -}}
{{- $_ := set $tls "client_ca_file" (printf "%s/%s" $tlsDir .Values.tls.caKey) -}}
{{- end -}}
{{- $_ := set $c "tls" $tls -}}
{{- end -}}
{{- $wechat := dict -}}
{{- range $name, $m := .Values.wechat.merchants -}}
{{- $dir := printf "%s/wechat/%s" (include "orderquery.configDir" $) $name -}}
{{- $w := dict "appids" $m.appids "mode" (default "direct" $m.mode) "mchid" (toString $m.mchid) "serial_no" $m.serial_no -}}
{{- $_ := set $w "private_key_file" (printf "%s/%s" $dir (default "apiclient_key.pem" $m.privateKeyKey)) -}}
{{- if $m.sub_mchid }}{{ $_ := set $w "sub_mchid" (toString $m.sub_mchid) }}{{ end -}}
{{- if $m.base_url }}{{ $_ := set $w "base_url" $m.base_url }}{{ end -}}
{{- if $m.public_key_id -}}
{{- $_ := set $w "public_key_id" $m.public_key_id -}}
{{- $_ := set $w "public_key_file" (printf "%s/%s" $dir (default "pub_key.pem" $m.publicKeyKey)) -}}
{{- end -}}
{{- if $m.apiV3KeyKey -}}
{{- $_ := set $w "apiv3_key_file" (printf "%s/%s" $dir $m.apiV3KeyKey) -}}
{{- end -}}
{{- if $m.platformCertKeys -}}
{{- $files := list -}}
{{- range $m.platformCertKeys }}{{ $files = append $files (printf "%s/%s" $dir .) }}{{ end -}}
{{- $_ := set $w "platform_cert_files" $files -}}
{{- end -}}
{{- $w = mergeOverwrite $w (default dict $m.extra) -}}
{{- $_ := set $wechat $name $w -}}
{{- end -}}
{{- if $wechat -}}
{{- $_ := set $c "wechat" (dict "merchants" $wechat) -}}
{{- end -}}
{{- $trade := default dict (get $c "trade") -}}
{{- $tm := dict -}}
{{- range $name, $m := .Values.trade.merchants -}}
{{- $dir := printf "%s/trade/%s" (include "orderquery.configDir" $) $name -}}
{{- $t := dict "base_url" $m.base_url "mch_id" (toString $m.mch_id) "sign_type" (default "MD5" $m.sign_type) -}}
{{- if $m.app_id }}{{ $_ := set $t "app_id" (toString $m.app_id) }}{{ end -}}
{{- $_ := set $t "key_file" (printf "%s/%s" $dir (default "key" $m.keyKey)) -}}
{{- $_ := set $tm $name $t -}}
{{- end -}}
{{- if $tm }}{{ $_ := set $trade "merchants" $tm }}{{ end -}}
{{- if .Values.trade.defaultMerchant }}{{ $_ := set $trade "default_merchant" .Values.trade.defaultMerchant }}{{ end -}}
{{- if $trade }}{{ $_ := set $c "trade" $trade }}{{ end -}}
{{- $callers := dict -}}
{{- if .Values.auth.gatewayKeySecret.name -}}
{{- $gw := dict "key_file" (printf "%s/auth/gateway/%s" (include "orderquery.configDir" .) .Values.auth.gatewayKeySecret.key) -}}
{{- $_ := set $gw "methods" (list "/orderquery.v1.OrderQueryService/GetVehicleTransaction" "/orderquery.v1.TradeOrderService/GetTradeOrder") -}}
{{- $_ := set $callers "gateway" $gw -}}
{{- end -}}
{{- range $name, $a := .Values.auth.callers -}}
{{- $k := dict "key_file" (printf "%s/auth/%s/%s" (include "orderquery.configDir" $) $name (default "api-key" $a.keyKey)) -}}
{{- $_ := set $k "methods" $a.methods -}}
{{- if $a.operator }}{{ $_ := set $k "operator" true }}{{ end -}}
{{- $_ := set $callers $name $k -}}
{{- end -}}
{{- if $callers }}{{ $_ := set $c "auth" (dict "callers" $callers) }}{{ end -}}
{{- $c = mergeOverwrite $c (deepCopy .Values.server.extraConfig) -}}
{{- toPrettyJson $c -}}
{{- end -}}

{{/* The migration Job's config: the database keys only, no listener, no merchant, no key. */}}
{{- define "orderquery.migrate.config" -}}
{{- $db := dict "host" (tpl .Values.db.host .) "port" (int .Values.db.port) "user" (default .Values.db.user .Values.migrations.user) "database" .Values.db.database -}}
{{- $_ := set $db "connect_timeout_ms" (int .Values.server.config.db.connect_timeout_ms) -}}
{{- $_ := set $db "startup_timeout_ms" (int .Values.server.config.db.startup_timeout_ms) -}}
{{- $_ := set $db "pool_size" 1 -}}
{{- toPrettyJson (dict "log_level" .Values.server.config.log_level "db" $db) -}}
{{- end -}}

{{/* The gateway's config.json (keys as orderquery-gateway --help lists them): its own keys
     from gateway.config, then the listeners and the upstream (orderqueryd's Service), then
     gateway.extraConfig. */}}
{{- define "orderquery.gateway.config" -}}
{{- $c := deepCopy .Values.gateway.config -}}
{{- $_ := set $c "listen" (printf "0.0.0.0:%d" (int .Values.gateway.ports.public)) -}}
{{- $_ := set $c "internal_listen" (printf "0.0.0.0:%d" (int .Values.gateway.ports.internal)) -}}
{{- if .Values.gateway.metrics.enabled -}}
{{- $_ := set $c "admin" (dict "listen" (printf "0.0.0.0:%d" (int .Values.gateway.ports.metrics))) -}}
{{- end -}}
{{- $up := default dict (get $c "upstream") -}}
{{- $_ := set $up "target" (printf "%s.%s.svc:%d" (include "orderquery.server.fullname" .) .Release.Namespace (int .Values.server.ports.grpc)) -}}
{{- if .Values.tls.enabled -}}
{{- $tlsDir := include "orderquery.tlsDir" . -}}
{{- $_ := set $up "tls" true -}}
{{- $_ := set $up "ca_file" (printf "%s/%s" $tlsDir .Values.tls.caKey) -}}
{{- if .Values.tls.mutual -}}
{{- $_ := set $up "cert_file" (printf "%s-client/tls.crt" $tlsDir) -}}
{{- $_ := set $up "key_file" (printf "%s-client/tls.key" $tlsDir) -}}
{{- end -}}
{{- end -}}
{{- if .Values.auth.gatewayKeySecret.name -}}
{{- $_ := set $up "api_key_file" (printf "%s/auth/gateway/%s" (include "orderquery.configDir" .) .Values.auth.gatewayKeySecret.key) -}}
{{- end -}}
{{- $_ := set $c "upstream" $up -}}
{{- $c = mergeOverwrite $c (deepCopy .Values.gateway.extraConfig) -}}
{{- toPrettyJson $c -}}
{{- end -}}

{{/* terminationGracePeriodSeconds of the gateway, from its shutdown_grace_ms likewise. */}}
{{- define "orderquery.gateway.terminationGrace" -}}
{{- $graceS := div (add (int .Values.gateway.config.shutdown_grace_ms) 999) 1000 -}}
{{- add (int .Values.gateway.drain.preStopSleepSeconds) $graceS (int .Values.gateway.drain.extraSeconds) -}}
{{- end -}}

{{/* Default topology spread for one component: hosts and zones, best effort. */}}
{{- define "orderquery.topologySpread" -}}
{{- $component := .component -}}
{{- $ctx := .ctx -}}
{{- if .custom -}}
{{ toYaml .custom }}
{{- else -}}
{{- range list "kubernetes.io/hostname" "topology.kubernetes.io/zone" }}
- maxSkew: 1
  topologyKey: {{ . }}
  whenUnsatisfiable: ScheduleAnyway
  labelSelector:
    matchLabels:
      {{- include "orderquery.selectorLabels" (dict "ctx" $ctx "component" $component) | nindent 6 }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The DB password env var, from an existing Secret only. */}}
{{- define "orderquery.dbPasswordEnv" -}}
- name: ORDERQUERY_DB_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ .name | quote }}
      key: {{ .key | quote }}
{{- end -}}

{{/* A probe handler for orderqueryd: (dict "ctx" $ "type" "grpc"). */}}
{{- define "orderquery.server.probeHandler" -}}
{{- $v := .ctx.Values -}}
{{- if eq .type "grpc" -}}
{{- if $v.tls.enabled -}}
{{- fail "server.probes: the kubelet's gRPC probe is plaintext only and tls.enabled is true; set server.probes.type and server.probes.livenessType to exec or tcp" -}}
{{- end -}}
grpc:
  port: {{ $v.server.ports.grpc }}
{{- else if eq .type "exec" -}}
exec:
  command:
    - /usr/local/bin/oqctl
    - --target
    - localhost:{{ $v.server.ports.grpc }}
    - --deadline
    - 2s
    {{- if $v.tls.enabled }}
    - --ca
    - {{ include "orderquery.tlsDir" .ctx }}/{{ $v.tls.caKey }}
    {{- if $v.tls.mutual }}
    - --cert
    - {{ include "orderquery.tlsDir" .ctx }}/tls.crt
    - --key
    - {{ include "orderquery.tlsDir" .ctx }}/tls.key
    {{- end }}
    {{- end }}
    - health
{{- else if eq .type "tcp" -}}
tcpSocket:
  port: grpc
{{- else -}}
{{- fail (printf "server.probes: unknown probe type %q (grpc, exec or tcp)" .type) -}}
{{- end -}}
{{- end -}}
