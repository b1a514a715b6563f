;;; emacs_driver.el --- drive focal.el in a real GNU Emacs, in batch mode  -*- lexical-binding: t; -*-

;; Run by tests/editors/test_emacs.py:
;;   emacs --batch -l emacs_driver.el CONFIG.json
;; CONFIG names the repository's editors/emacs, the server command, the workspace, the
;; file to open and the settings to set through focal.el's variables.  The driver starts
;; lsp-mode with Focal as its only client (as `M-x lsp' does), waits for the session, asks
;; `focal/status', records what the server told the user, and writes RESULT as JSON.

;;; Code:

(require 'json)
(require 'package)
(package-initialize)  ; Debian's elpa-lsp-mode lives in /usr/share/emacs/site-lisp/elpa

(defvar focal-driver-config
  (json-parse-string
   (with-temp-buffer
     (insert-file-contents (car command-line-args-left))
     (buffer-string))
   :object-type 'hash-table))

(defun focal-driver--get (key) (gethash key focal-driver-config))

(defvar focal-driver-result (make-hash-table :test #'equal))
(defvar focal-driver-messages nil)

(defun focal-driver--finish ()
  (puthash "messages" (vconcat (reverse focal-driver-messages)) focal-driver-result)
  (with-temp-file (focal-driver--get "result")
    (insert (json-encode focal-driver-result)))
  (kill-emacs 0))

(defun focal-driver--fail (what)
  (puthash "error" what focal-driver-result)
  (focal-driver--finish))

(condition-case err
    (progn
      (setq lsp-session-file (expand-file-name "lsp-session" (focal-driver--get "home"))
            lsp-enable-file-watchers nil
            lsp-auto-guess-root nil
            lsp-restart 'ignore
            lsp-keep-workspace-alive nil
            lsp-enabled-clients '(focal)
            lsp-response-timeout 60)
      (require 'lsp-mode)
      (add-to-list 'load-path (focal-driver--get "elisp"))
      (require 'focal)
      (setq focal-command (append (focal-driver--get "command") nil)
            focal-model-path (focal-driver--get "model")
            focal-max-tokens 8)
      ;; What the server shows the user (window/showMessage) goes through `message'.
      (advice-add 'message :before
                  (lambda (fmt &rest args)
                    (when fmt
                      (push (apply #'format-message fmt args) focal-driver-messages))))
      (let ((root (focal-driver--get "root")))
        (lsp-workspace-folders-add root)
        (find-file (expand-file-name (focal-driver--get "file") root))
        (lsp)
        (let ((deadline (+ (float-time) 60)))
          (while (and (< (float-time) deadline)
                      (not (and (lsp-workspaces)
                                (eq (lsp--workspace-status (car (lsp-workspaces)))
                                    'initialized))))
            (accept-process-output nil 0.1)))
        (unless (lsp-workspaces)
          (focal-driver--fail "lsp-mode started no Focal workspace"))
        ;; The model loads in the background: ask until it is ready (or failed).
        (let ((deadline (+ (float-time) 60)) status)
          (while (progn
                   (setq status (lsp-request "focal/status" (make-hash-table)))
                   (and (< (float-time) deadline)
                        (not (member (gethash "state" status) '("ready" "error")))))
            (accept-process-output nil 0.1))
          (puthash "status" status focal-driver-result))
        ;; Messages sent just after initialize may still be in flight.
        (accept-process-output nil 0.5)
        (focal-driver--finish)))
  (error (focal-driver--fail (format "%S" err))))

;;; emacs_driver.el ends here
