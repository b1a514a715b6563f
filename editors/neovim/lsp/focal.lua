-- Focal: local-first AI completions (inline ghost text and completion items) from a GGUF
-- model running inside `focal serve`; every suggestion carries its origin.
--
-- Used by `vim.lsp.enable('focal')` (Neovim >= 0.11). Override any field with
-- `vim.lsp.config('focal', { ... })`, e.g. the model:
--
--   vim.lsp.config('focal', { settings = { focal = { model = { path = '~/models/m.gguf' } } } })
--
-- `require('focal').setup()` does this and also turns on inline completion, the accept key
-- and the :FocalCommitMessage / :FocalOrigin commands.

---@type vim.lsp.Config
return {
  cmd = { 'focal', 'serve' },
  root_markers = { '.git' },
  -- The `focal` section, camelCase as in lsp_server/settings.py: model.path,
  -- model.gpuLayers, model.contextLength, completion.timeBudgetMs, privacy.allowRemote, ...
  settings = { focal = vim.empty_dict() },
  before_init = function(params, config)
    -- The same settings go in initializationOptions, so that the model named there is the
    -- first one loaded (the server pulls `workspace/configuration` only after `initialized`).
    local ok, focal = pcall(require, 'focal')
    local settings = config.settings and config.settings.focal or {}
    params.initializationOptions = {
      focal = ok and focal.json_object(settings) or settings,
    }
  end,
  commands = {
    -- Item commands run on the client first: report acceptance to the server and remember
    -- which lines the suggestion wrote (for :FocalOrigin).
    ['focal.accepted'] = function(command, ctx)
      local ok, focal = pcall(require, 'focal')
      if ok then
        focal.on_accepted(command, ctx)
      else
        local client = assert(vim.lsp.get_client_by_id(ctx.client_id))
        client:request('workspace/executeCommand', {
          command = command.command,
          arguments = command.arguments,
        }, function() end, ctx.bufnr)
      end
    end,
  },
}
