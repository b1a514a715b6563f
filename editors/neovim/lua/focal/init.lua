-- Focal for Neovim >= 0.12: native inline completion (ghost text) and completion items from
-- `focal serve`, acceptance reported back to the server, the origin of the suggestion under
-- the cursor, and commit messages from the staged diff.
--
--   require('focal').setup({
--     settings = { model = { path = '~/models/model.gguf', gpuLayers = -1 } },
--   })
--
-- Insert mode: suggestions appear as ghost text; <Tab> accepts, <M-]>/<M-[> cycle.
-- :FocalOrigin shows which model wrote the line under the cursor; :FocalCommitMessage
-- writes a summary of the staged changes into a gitcommit buffer.

local M = {}

local api = vim.api
local NAME = 'focal'
local ACCEPT_COMMAND = 'focal.accepted'
local ORIGIN_COMMAND = 'focal.showOrigin'
local SUMMARIZE_COMMAND = 'focal.summarizeDiff'

local ns = api.nvim_create_namespace('focal.suggestions')

---@class focal.Opts
---@field cmd? string[] Command that starts the server (default: `{ 'focal', 'serve' }`).
---@field settings? table The `focal` settings tree, camelCase as in lsp_server/settings.py.
---@field inline? boolean Inline completion (ghost text) (default: true).
---@field completion? { enable?: boolean, autotrigger?: boolean } Completion items
---   (default: enabled, triggered by <C-x><C-o> or the server's trigger characters when
---   `autotrigger`).
---@field keymaps? false|{ accept?: string|false, next?: string|false, prev?: string|false }
M.defaults = {
  cmd = nil,
  settings = {},
  inline = true,
  completion = { enable = true, autotrigger = false },
  keymaps = { accept = '<Tab>', next = '<M-]>', prev = '<M-[>' },
}

--- Results observable by scripts and tests.
---@type { suggestion_id: string?, known: boolean, result: any, error: string? }?
M.last_accept = nil
---@type table?
M.last_origin = nil
---@type table<integer, table<integer, string>> bufnr -> extmark id -> suggestion id
M.marks = {}

--- `t` with every empty table replaced by a JSON object: an empty Lua table is encoded as
--- `[]`, and the server rejects a list where it expects a settings section.
function M.json_object(t)
  if type(t) ~= 'table' then
    return t
  end
  if next(t) == nil then
    return vim.empty_dict()
  end
  local out = {}
  for k, v in pairs(t) do
    if type(v) == 'table' and (next(v) == nil or not vim.islist(v)) then
      out[k] = M.json_object(v)
    else
      out[k] = v
    end
  end
  return out
end

local function notify(msg, level)
  vim.notify('Focal: ' .. msg, level or vim.log.levels.INFO)
end

--- The Focal client for `bufnr` (attached there, else any running one).
---@return vim.lsp.Client?
function M.client(bufnr)
  local clients = vim.lsp.get_clients({ bufnr = bufnr or 0, name = NAME })
  if #clients == 0 then
    clients = vim.lsp.get_clients({ name = NAME })
  end
  return clients[1]
end

local function server_commands(client)
  local provider = client.server_capabilities and client.server_capabilities.executeCommandProvider
  return type(provider) == 'table' and provider.commands or {}
end

--- Remember that suggestion `sid` wrote rows `first`..`last` (0-based) of `bufnr`; the mark
--- moves with later edits.
local function mark(bufnr, first, last, sid)
  if not sid or not api.nvim_buf_is_valid(bufnr) then
    return
  end
  local count = api.nvim_buf_line_count(bufnr)
  last = math.min(last, count - 1)
  local end_col = #(api.nvim_buf_get_lines(bufnr, last, last + 1, true)[1] or '')
  local id = api.nvim_buf_set_extmark(bufnr, ns, first, 0, {
    end_row = last,
    end_col = end_col,
    right_gravity = false,
    end_right_gravity = true,
  })
  M.marks[bufnr] = M.marks[bufnr] or {}
  M.marks[bufnr][id] = sid
end

local function marked(bufnr, sid)
  for _, s in pairs(M.marks[bufnr] or {}) do
    if s == sid then
      return true
    end
  end
  return false
end

--- Client side of the item command `focal.accepted` (inline and completion items): forward
--- it to the server and record its answer (true when the server knows the suggestion).
function M.on_accepted(command, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client then
    return
  end
  local args = command.arguments or {}
  local info = type(args[1]) == 'table' and args[1] or {}
  local sid = info.suggestionId
  local bufnr = ctx.bufnr or api.nvim_get_current_buf()
  if sid and not marked(bufnr, sid) then
    -- Accepted through Neovim's own handler: the cursor ends the inserted text.
    local row = api.nvim_win_get_cursor(0)[1] - 1
    mark(bufnr, row, row, sid)
  end
  client:request('workspace/executeCommand', {
    command = ACCEPT_COMMAND,
    arguments = args,
  }, function(err, result)
    M.last_accept = {
      suggestion_id = sid,
      known = result == true,
      result = result,
      error = err and err.message or nil,
    }
    api.nvim_exec_autocmds('User', { pattern = 'FocalAccepted', data = M.last_accept })
  end, bufnr)
end

--- Insert an inline completion item (as Neovim's own accept does), mark the lines it
--- wrote, then run its command.
---@param item vim.lsp.inline_completion.Item
local function apply(item, bufnr)
  local text = item.insert_text
  local first_row = api.nvim_win_get_cursor(0)[1] - 1
  if type(text) == 'string' then
    local lines = vim.split(text, '\n', { plain = true })
    if item.range then
      local r = item.range
      api.nvim_buf_set_text(bufnr, r.start.row, r.start.col, r.end_.row, r.end_.col, lines)
      first_row = r.start.row
      api.nvim_win_set_cursor(0, {
        first_row + #lines,
        (#lines == 1 and r.start.col or 0) + #lines[#lines],
      })
    else
      api.nvim_paste(text, false, 0)
    end
  else
    vim.snippet.expand(text.value)
  end
  local last_row = api.nvim_win_get_cursor(0)[1] - 1
  local cmd = item.command
  if cmd then
    local args = cmd.arguments or {}
    local sid = type(args[1]) == 'table' and args[1].suggestionId or nil
    mark(bufnr, first_row, last_row, sid)
    local client = vim.lsp.get_client_by_id(item.client_id)
    if client then
      client:exec_cmd(cmd, { bufnr = bufnr })
    end
  end
end

--- Accept the inline suggestion shown in the current buffer. False when there is none
--- (so a key mapping can fall back to its usual meaning).
---@return boolean
function M.accept()
  local bufnr = api.nvim_get_current_buf()
  return vim.lsp.inline_completion.get({
    bufnr = bufnr,
    on_accept = function(item)
      apply(item, bufnr)
    end,
  })
end

--- The suggestion id written on `row` (0-based) of `bufnr`, if any.
function M.suggestion_at(bufnr, row)
  local found = api.nvim_buf_get_extmarks(bufnr, ns, { row, 0 }, { row, -1 }, { overlap = true })
  -- The most recent suggestion wins when several cover the line.
  local best
  for _, m in ipairs(found) do
    local sid = (M.marks[bufnr] or {})[m[1]]
    if sid and (not best or m[1] > best[1]) then
      best = { m[1], sid }
    end
  end
  return best and best[2] or nil
end

--- :FocalOrigin — the origin of the suggestion on the cursor line (the last suggestion when
--- no accepted suggestion covers it). The server shows it; the answer is in M.last_origin.
function M.show_origin()
  local bufnr = api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify('the server is not running in this buffer (call require("focal").setup()).', vim.log.levels.ERROR)
    return
  end
  local row = api.nvim_win_get_cursor(0)[1] - 1
  local sid = M.suggestion_at(bufnr, row)
  if not sid then
    notify('no accepted suggestion on this line; showing the last suggestion.')
  end
  client:request('workspace/executeCommand', {
    command = ORIGIN_COMMAND,
    arguments = sid and { { suggestionId = sid } } or {},
  }, function(err, result)
    if err then
      notify('showOrigin failed: ' .. err.message, vim.log.levels.ERROR)
    end
    M.last_origin = { line_suggestion_id = sid, result = result, error = err and err.message or nil }
    api.nvim_exec_autocmds('User', { pattern = 'FocalOrigin', data = M.last_origin })
  end, bufnr)
end

--- A commit message as git wants it: no code fence or quotes, a blank line after the subject.
function M.clean_message(message)
  local text = vim.trim((message:gsub('\r\n', '\n')))
  local fenced = text:match('^```[^\n]*\n(.-)\n?```$')
  if fenced then
    text = vim.trim(fenced)
  end
  local q = text:sub(1, 1)
  if (q == '"' or q == "'") and text:sub(-1) == q and not text:sub(2, -2):find(q, 1, true) then
    text = vim.trim(text:sub(2, -2))
  end
  local lines = vim.split(text, '\n', { plain = true })
  for i, l in ipairs(lines) do
    lines[i] = l:gsub('%s+$', '')
  end
  if #lines > 1 and lines[2] ~= '' then
    table.insert(lines, 2, '')
  end
  return lines
end

--- The buffer lines of a gitcommit buffer with the message added: before git's comment
--- lines, after anything the user already wrote (which is kept).
---@param lines string[] current buffer lines
---@param message string[] the message lines
---@param comment_char? string git's core.commentChar (default `#`)
function M.merge_commit_lines(lines, message, comment_char)
  comment_char = comment_char or '#'
  local first_comment = #lines + 1
  for i, l in ipairs(lines) do
    if vim.startswith(l, comment_char) then
      first_comment = i
      break
    end
  end
  local typed = vim.list_slice(lines, 1, first_comment - 1)
  while #typed > 0 and vim.trim(typed[#typed]) == '' do
    table.remove(typed)
  end
  local rest = vim.list_slice(lines, first_comment, #lines)
  local out = {}
  vim.list_extend(out, typed)
  if #typed > 0 then
    table.insert(out, '')
  end
  vim.list_extend(out, message)
  if #rest > 0 then
    table.insert(out, '')
    vim.list_extend(out, rest)
  end
  return out
end

--- :FocalCommitMessage — summarize the staged changes into the current (gitcommit) buffer.
function M.commit_message()
  local bufnr = api.nvim_get_current_buf()
  local client = M.client(bufnr)
  if not client then
    notify('the server is not running (call require("focal").setup()).', vim.log.levels.ERROR)
    return
  end
  if not vim.list_contains(server_commands(client), SUMMARIZE_COMMAND) then
    notify('this server has no ' .. SUMMARIZE_COMMAND .. ' command; update Focal.', vim.log.levels.ERROR)
    return
  end
  local root = vim.fs.root(bufnr, '.git') or client.root_dir or vim.fn.getcwd()
  notify('summarizing the staged changes…')
  client:request('workspace/executeCommand', {
    command = SUMMARIZE_COMMAND,
    arguments = { { root = root, staged = true } },
  }, function(err, result)
    local message = type(result) == 'table' and result.message or nil
    if err or type(message) ~= 'string' or vim.trim(message) == '' then
      -- The server answers {error = why} when it wrote nothing (e.g. nothing staged).
      local why = err and err.message
        or (type(result) == 'table' and type(result.error) == 'string' and result.error)
        or 'no summary (are there staged changes?)'
      notify('could not write a commit message: ' .. why, vim.log.levels.ERROR)
      M.last_commit = { error = why }
      api.nvim_exec_autocmds('User', { pattern = 'FocalCommitMessage', data = M.last_commit })
      return
    end
    if not api.nvim_buf_is_valid(bufnr) then
      return
    end
    local lines = api.nvim_buf_get_lines(bufnr, 0, -1, false)
    local new = M.merge_commit_lines(lines, M.clean_message(message))
    api.nvim_buf_set_lines(bufnr, 0, -1, false, new)
    M.last_commit = { message = message, origin = result.origin }
    api.nvim_exec_autocmds('User', { pattern = 'FocalCommitMessage', data = M.last_commit })
  end, bufnr)
end

local function set_keymaps(keymaps, bufnr)
  if not keymaps then
    return
  end
  if keymaps.accept then
    vim.keymap.set('i', keymaps.accept, function()
      if not M.accept() then
        return api.nvim_replace_termcodes(keymaps.accept, true, false, true)
      end
      return ''
    end, { buffer = bufnr, expr = true, desc = 'Focal: accept the inline suggestion' })
  end
  if keymaps.next then
    vim.keymap.set('i', keymaps.next, function()
      vim.lsp.inline_completion.select({ count = 1 })
    end, { buffer = bufnr, desc = 'Focal: next inline suggestion' })
  end
  if keymaps.prev then
    vim.keymap.set('i', keymaps.prev, function()
      vim.lsp.inline_completion.select({ count = -1 })
    end, { buffer = bufnr, desc = 'Focal: previous inline suggestion' })
  end
end

--- Configure and enable the `focal` server, inline completion, completion, the accept key
--- and the commands.
---@param opts? focal.Opts
function M.setup(opts)
  opts = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  M.options = opts

  local config = { settings = { focal = M.json_object(opts.settings or {}) } }
  if opts.cmd then
    config.cmd = opts.cmd
  end
  vim.lsp.config(NAME, config)
  vim.lsp.enable(NAME)

  local group = api.nvim_create_augroup('focal', { clear = true })
  api.nvim_create_autocmd('LspAttach', {
    group = group,
    callback = function(ev)
      local client = vim.lsp.get_client_by_id(ev.data.client_id)
      if not client or client.name ~= NAME then
        return
      end
      if opts.inline and vim.lsp.inline_completion then
        vim.lsp.inline_completion.enable(true, { bufnr = ev.buf })
      end
      if opts.completion and opts.completion.enable then
        vim.lsp.completion.enable(true, client.id, ev.buf, {
          autotrigger = opts.completion.autotrigger,
        })
      end
      set_keymaps(opts.keymaps, ev.buf)
    end,
  })
  api.nvim_create_autocmd('BufWipeout', {
    group = group,
    callback = function(ev)
      M.marks[ev.buf] = nil
    end,
  })

  api.nvim_create_user_command('FocalOrigin', M.show_origin, {
    desc = 'Focal: show which model wrote the suggestion on the cursor line',
  })
  api.nvim_create_user_command('FocalCommitMessage', M.commit_message, {
    desc = 'Focal: write a commit message from the staged changes',
  })
end

return M
