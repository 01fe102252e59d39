{{- define "autostack.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "autostack.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "autostack.labels" -}}
app.kubernetes.io/name: {{ include "autostack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{- define "autostack.selector" -}}
app.kubernetes.io/name: {{ include "autostack.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "autostack.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "autostack.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The namespace the bot operates on (kubernetes.namespace), by default the release's. */}}
{{- define "autostack.targetNamespace" -}}
{{- dig "kubernetes" "namespace" .Release.Namespace .Values.config | default .Release.Namespace -}}
{{- end -}}

{{/* The configuration file: the values' config with the target namespace filled in. */}}
{{- define "autostack.config" -}}
{{- $config := deepCopy .Values.config -}}
{{- $kube := get $config "kubernetes" | default dict -}}
{{- $_ := set $kube "namespace" (include "autostack.targetNamespace" .) -}}
{{- $_ := set $config "kubernetes" $kube -}}
{{- toYaml $config -}}
{{- end -}}

{{- define "autostack.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{/* The pod spec shared by the bot and the workers; call with (dict "root" $ "role" "bot"|"worker" "args" (list ...) "values" .Values.bot|.Values.worker). */}}
{{- define "autostack.podTemplate" -}}
{{- $root := .root -}}
metadata:
  labels:
    {{- include "autostack.selector" $root | nindent 4 }}
    app.kubernetes.io/component: {{ .role }}
  annotations:
    checksum/config: {{ include "autostack.config" $root | sha256sum }}
    {{- with .values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "autostack.serviceAccountName" $root }}
  automountServiceAccountToken: true
  {{- with $root.Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  securityContext:
    {{- toYaml $root.Values.podSecurityContext | nindent 4 }}
  containers:
    - name: {{ .role }}
      image: {{ include "autostack.image" $root | quote }}
      imagePullPolicy: {{ $root.Values.image.pullPolicy }}
      command: ["node", "dist/src/main.js"]
      {{- with .args }}
      args:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      ports:
        - name: http
          containerPort: 3000
          protocol: TCP
      env:
        - name: PORT
          value: "3000"
        - name: AUTOSTACK_CONFIG
          value: /etc/autostack/autostack.yaml
        {{- with $root.Values.redis.url }}
        - name: REDIS_URL
          value: {{ . | quote }}
        {{- end }}
        {{- range $name, $value := $root.Values.env }}
        - name: {{ $name }}
          value: {{ $value | quote }}
        {{- end }}
      envFrom:
        - secretRef:
            name: {{ $root.Values.secrets.existingSecret }}
      readinessProbe:
        httpGet: { path: /health, port: http }
        periodSeconds: 10
      livenessProbe:
        httpGet: { path: /health, port: http }
        periodSeconds: 20
        failureThreshold: 6
      resources:
        {{- toYaml .values.resources | nindent 8 }}
      securityContext:
        {{- toYaml $root.Values.securityContext | nindent 8 }}
      volumeMounts:
        - name: config
          mountPath: /etc/autostack
          readOnly: true
        - name: tmp
          mountPath: /tmp
  volumes:
    - name: config
      configMap:
        name: {{ include "autostack.fullname" $root }}
    - name: tmp
      emptyDir: {}
  {{- with .values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .values.affinity }}
  affinity:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end -}}
