{{/* Names, labels and the shared pieces of the pod specs. */}}

{{- define "weft.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "weft.fullname" -}}
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

{{/* weft.labels: common labels; pass (dict "ctx" $ "component" "controller"). */}}
{{- define "weft.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
{{ include "weft.selectorLabels" . }}
{{- end -}}

{{- define "weft.selectorLabels" -}}
app.kubernetes.io/name: {{ include "weft.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "weft.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/*
The controller's URL for the pods of this release: its Service, or
controller.publicURL when the controller runs elsewhere.
*/}}
{{- define "weft.controllerURL" -}}
{{- if not .Values.controller.enabled -}}
{{- required "controller.enabled is false: set controller.publicURL to the URL of the controller the agents, connector and relay use" .Values.controller.publicURL | trimSuffix "/" -}}
{{- else -}}
{{- $scheme := ternary "https" "http" (ne .Values.controller.tls.secretName "") -}}
{{- printf "%s://%s-controller.%s.svc:%v" $scheme (include "weft.fullname" .) .Release.Namespace .Values.controller.service.port -}}
{{- end -}}
{{- end -}}

{{/* The URL agents are given: publicURL, else the ingress host, else the Service. */}}
{{- define "weft.publicURL" -}}
{{- if .Values.controller.publicURL -}}
{{- .Values.controller.publicURL -}}
{{- else if .Values.controller.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" (ne .Values.controller.ingress.tlsSecretName "")) .Values.controller.ingress.host -}}
{{- else -}}
{{- include "weft.controllerURL" . -}}
{{- end -}}
{{- end -}}

{{- define "weft.adminKeySecret" -}}
{{- default (printf "%s-admin-key" (include "weft.fullname" .)) .Values.controller.bootstrapKey.existingSecret -}}
{{- end -}}

{{/*
weft.keepSecret: the value of KEY in the Secret NAME as the cluster has it
(so upgrades keep generated keys), else DEFAULT. `helm template` has no
cluster: it always renders DEFAULT. Pass (list $ NAME KEY DEFAULT).
*/}}
{{- define "weft.keepSecret" -}}
{{- $ctx := index . 0 -}}
{{- $old := lookup "v1" "Secret" $ctx.Release.Namespace (index . 1) -}}
{{- if and $old $old.data (hasKey $old.data (index . 2)) -}}
{{- index $old.data (index . 2) -}}
{{- else -}}
{{- index . 3 | b64enc -}}
{{- end -}}
{{- end -}}

{{/* The container securityContext of the non-root programs: nothing but their own files. */}}
{{- define "weft.restrictedContainer" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end -}}


{{/*
The agent's controller flags: the controller's URL, the CA of
controller.tls.secretName for HTTPS, --insecure-http for plain HTTP (in the
cluster network).
*/}}
{{- define "weft.agentControllerArgs" -}}
{{- $url := include "weft.controllerURL" . -}}
- --controller={{ $url }}
{{- if hasPrefix "http://" $url }}
- --insecure-http
{{- else if .Values.controller.tls.secretName }}
- --controller-ca=/etc/weft/ca/ca.crt
{{- end }}
{{- end -}}

{{/*
The agent's container securityContext (agent DaemonSet, connector): never
privileged; root, because Kubernetes gives capabilities to uid 0 only, with
CAP_NET_ADMIN (TUN device, routes, nftables) and CAP_NET_BIND_SERVICE (the
DNS stub's port 53 on the mesh addresses), the two the systemd unit keeps.
*/}}
{{- define "weft.agentCaps" -}}
allowPrivilegeEscalation: false
privileged: false
readOnlyRootFilesystem: true
runAsNonRoot: false
runAsUser: 0
capabilities:
  drop: [ALL]
  add: [NET_ADMIN, NET_BIND_SERVICE]
seccompProfile:
  type: RuntimeDefault
{{- end -}}
