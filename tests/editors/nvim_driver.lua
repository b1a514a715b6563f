-- Drives a real headless Neovim through Focal's plugin, the way a user would: open a file,
-- enter insert mode, wait for the ghost text, press the accept key, leave insert mode, ask
-- for the origin of the line, write the file. Results go to a JSON file for the pytest side.
--
-- Run: nvim --clean --headless -u nvim_driver.lua   with FOCAL_E2E=<config.json>
-- Config: { plugin_dir, cmd, settings, file, scenario ("inline"|"commit"), row, accept_with
-- ("plugin"|"builtin"), out, timeout_ms }

local cfg = vim.json.decode(table.concat(vim.fn.readfile(assert(os.getenv('FOCAL_E2E'))), '\n'))
vim.opt.runtimepath:prepend(cfg.plugin_dir)
vim.opt.swapfile = false
vim.opt.shortmess:append('F')

local result = { steps = {}, messages = {} }
local step = 'start'
local finished = false

local function finish(err)
  if finished then
    return
  end
  finished = true
  result.error = err
  result.failed_step = err and step or nil
  vim.fn.writefile({ vim.json.encode(result) }, cfg.out)
  vim.cmd('qall!')
end

-- Messages the server shows (window/showMessage) and our notifications, for the report.
local notify = vim.notify
vim.notify = function(msg, level, o)
  table.insert(result.messages, { msg = msg, level = level })
  return notify(msg, level, o)
end

vim.defer_fn(function()
  finish(('timed out after %d ms'):format(cfg.timeout_ms))
end, cfg.timeout_ms)

local co
local function resume()
  local ok, err = coroutine.resume(co)
  if not ok then
    finish(debug.traceback(co, tostring(err)))
  end
end
local function sleep(ms)
  vim.defer_fn(resume, ms)
  coroutine.yield()
end
local function wait_for(what, cond, timeout_ms)
  step = what
  local t0 = vim.uv.now()
  while true do
    local v = cond()
    if v then
      table.insert(result.steps, { step = what, ms = vim.uv.now() - t0 })
      return v
    end
    if vim.uv.now() - t0 > timeout_ms then
      error(('waited %d ms for: %s'):format(timeout_ms, what), 0)
    end
    sleep(50)
  end
end
local function request(client, method, params, bufnr)
  local done, res, er
  client:request(method, params, function(e, r)
    done, res, er = true, r, e
  end, bufnr)
  wait_for('answer to ' .. method, function()
    return done
  end, 30000)
  if er then
    error(method .. ' failed: ' .. vim.inspect(er), 0)
  end
  return res
end
local function keys(k)
  vim.api.nvim_feedkeys(vim.api.nvim_replace_termcodes(k, true, false, true), 'm', false)
end

local focal = require('focal')
focal.setup({ cmd = cfg.cmd, settings = cfg.settings })

local function start_client(bufnr)
  local client = wait_for('focal attached to the buffer', function()
    return vim.lsp.get_clients({ bufnr = bufnr, name = 'focal' })[1]
  end, 20000)
  wait_for('server initialized', function()
    return client.initialized
  end, 20000)
  result.server_commands = (client.server_capabilities.executeCommandProvider or {}).commands
  step = 'model ready'
  local t0 = vim.uv.now()
  local status
  while true do
    status = request(client, 'focal/status', {}, bufnr)
    if status.state == 'error' then
      error('the model did not load: ' .. tostring(status.error), 0)
    elseif status.state == 'ready' then
      break
    elseif vim.uv.now() - t0 > 60000 then
      error('the model was not ready after 60 s (state ' .. tostring(status.state) .. ')', 0)
    end
    sleep(100)
  end
  table.insert(result.steps, { step = 'model ready', ms = vim.uv.now() - t0 })
  result.model = status.model
  return client
end

local function inline_scenario()
  vim.cmd.edit(vim.fn.fnameescape(cfg.file))
  local bufnr = vim.api.nvim_get_current_buf()
  local client = start_client(bufnr)

  -- Insert mode at the end of the target line: Neovim requests an inline completion itself.
  vim.api.nvim_win_set_cursor(0, { cfg.row, 0 })
  keys('A')
  wait_for('insert mode', function()
    return vim.api.nvim_get_mode().mode == 'i'
  end, 5000)
  result.cursor_before = vim.api.nvim_win_get_cursor(0)
  local inline_ns = vim.api.nvim_get_namespaces()['nvim.lsp.inline_completion']
  local marks = wait_for('ghost text shown', function()
    local m = inline_ns and vim.api.nvim_buf_get_extmarks(bufnr, inline_ns, 0, -1, { details = true })
    return m and #m > 0 and m or nil
  end, 60000)
  local d = marks[1][4]
  local ghost = {}
  for _, chunk in ipairs(d.virt_text or {}) do
    table.insert(ghost, chunk[1])
  end
  local lines = { table.concat(ghost) }
  for _, vl in ipairs(d.virt_lines or {}) do
    local parts = {}
    for _, chunk in ipairs(vl) do
      table.insert(parts, chunk[1])
    end
    table.insert(lines, table.concat(parts))
  end
  result.ghost_text = table.concat(lines, '\n')

  if cfg.accept_with == 'builtin' then
    -- A user's own mapping to Neovim's accept: its default handler runs item.command.
    vim.lsp.inline_completion.get()
  else
    -- The user presses <Tab>: the plugin's mapping accepts the suggestion.
    keys('<Tab>')
  end
  local accepted = wait_for('focal.accepted answered', function()
    return focal.last_accept
  end, 20000)
  result.accept = accepted
  result.cursor_after = vim.api.nvim_win_get_cursor(0)
  keys('<Esc>')
  wait_for('normal mode', function()
    return vim.api.nvim_get_mode().mode == 'n'
  end, 5000)

  -- :FocalOrigin on the line the suggestion wrote.
  vim.cmd('FocalOrigin')
  result.origin = wait_for(':FocalOrigin answered', function()
    return focal.last_origin
  end, 20000)
  result.status = request(client, 'focal/status', {}, bufnr)

  vim.cmd.write()
  result.buffer = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true), '\n')
end

local function commit_scenario()
  vim.cmd.edit(vim.fn.fnameescape(cfg.file))
  local bufnr = vim.api.nvim_get_current_buf()
  vim.bo[bufnr].filetype = 'gitcommit'
  start_client(bufnr)
  if not vim.list_contains(result.server_commands or {}, 'focal.summarizeDiff') then
    result.error = 'the server does not offer focal.summarizeDiff'
    return
  end
  vim.cmd('FocalCommitMessage')
  result.commit = wait_for(':FocalCommitMessage answered', function()
    return focal.last_commit
  end, 100000)
  vim.cmd.write()
  result.buffer = table.concat(vim.api.nvim_buf_get_lines(bufnr, 0, -1, true), '\n')
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  nested = true, -- :edit inside must fire BufRead/FileType (which start the client)
  callback = function()
    co = coroutine.create(function()
      if cfg.scenario == 'commit' then
        commit_scenario()
      else
        inline_scenario()
      end
      finish(nil)
    end)
    resume()
  end,
})
