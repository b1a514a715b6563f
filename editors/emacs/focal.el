;;; focal.el --- Focal as an lsp-mode add-on server  -*- lexical-binding: t; -*-

;; Focal: local-first AI completions from a GGUF model running inside `focal serve';
;; every suggestion carries its origin (model, digest, engine, timing, confidence).
;;
;; Usage: put this file on `load-path', then
;;   (with-eval-after-load 'lsp-mode (require 'focal))
;;   (setq focal-model-path "~/models/model.gguf")
;; and run `lsp' as usual: Focal starts beside the buffer's main language server
;; (it is an add-on server), and its suggestion appears among the completion candidates.

;;; Code:

(require 'lsp-mode)

(defgroup focal nil
  "Focal, a local-first AI language server."
  :group 'lsp-mode
  :prefix "focal-")

(defcustom focal-command '("focal" "serve")
  "Command that starts the Focal language server on stdio."
  :type '(repeat string))

(defcustom focal-model-path nil
  "GGUF model file.  nil: $FOCAL_MODEL, then the embedded SmolLM2 demo model."
  :type '(choice (const :tag "Default" nil) file))

(defcustom focal-gpu-layers -1
  "Layers to offload to the GPU: -1 all (when llama.cpp can), 0 CPU only."
  :type 'integer)

(defcustom focal-context-length 4096
  "Context window (tokens) Focal asks llama.cpp for."
  :type 'integer)

(defcustom focal-time-budget-ms 1000
  "A completion stops generating after this many milliseconds.
Completion candidates wait for the model, so keep this short (server default: 3000)."
  :type 'integer)

(defcustom focal-max-tokens 48
  "Most tokens one completion may generate."
  :type 'integer)

(defcustom focal-allow-remote nil
  "Allow a remote engine.  nil: nothing leaves this machine."
  :type 'boolean)

;; `workspace/configuration' (section "focal") is answered from these, camelCase as in
;; lsp_server/settings.py.  The third element t marks a boolean (sent as true/false).
(lsp-register-custom-settings
 '(("focal.model.path" focal-model-path)
   ("focal.model.gpuLayers" focal-gpu-layers)
   ("focal.model.contextLength" focal-context-length)
   ("focal.completion.timeBudgetMs" focal-time-budget-ms)
   ("focal.completion.maxTokens" focal-max-tokens)
   ("focal.privacy.allowRemote" focal-allow-remote t)))

(defun focal--initialization-options ()
  "The `focal' settings as `initializationOptions', so the first model loaded is the right one.
`lsp-configuration-section' already answers {\"focal\": {...}}: send what is inside, once."
  (or (gethash "focal" (lsp-configuration-section "focal"))
      (make-hash-table :test #'equal)))

(defun focal-show-origin ()
  "Show the origin (model, digest, engine, timing) of Focal's last suggestion."
  (interactive)
  (lsp-send-execute-command "focal.showOrigin" []))

(defun focal-commit-message ()
  "Insert a commit message summarizing the staged changes at the top of this buffer."
  (interactive)
  (let* ((root (or (locate-dominating-file default-directory ".git")
                   (lsp-workspace-root)))
         (result (lsp-request "workspace/executeCommand"
                              (list :command "focal.summarizeDiff"
                                    :arguments (vector (list :root (expand-file-name root)
                                                             :staged t)))))
         (message (and (hash-table-p result) (gethash "message" result))))
    (if (not (stringp message))
        (user-error "Focal: no commit message (%s)"
                    (or (and (hash-table-p result) (gethash "error" result))
                        "are there staged changes?"))
      (save-excursion
        (goto-char (point-min))
        (insert (string-trim message) "\n")))))

(lsp-register-client
 (make-lsp-client
  :new-connection (lsp-stdio-connection (lambda () focal-command))
  :activation-fn (lambda (&rest _) (derived-mode-p 'prog-mode 'text-mode))
  :add-on? t
  :priority -2
  :server-id 'focal
  :initialization-options #'focal--initialization-options
  :initialized-fn (lambda (workspace)
                    (with-lsp-workspace workspace
                      (lsp--set-configuration (lsp-configuration-section "focal"))))))

(provide 'focal)
;;; focal.el ends here
