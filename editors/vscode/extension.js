// Starts `semc lsp` for .sem files: diagnostics, hover, definitions, references, completion,
// outline, formatting and quick fixes all come from the server.
const vscode = require("vscode");
const { LanguageClient } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const command = vscode.workspace.getConfiguration("semc").get("path") || "semc";
  const server = { command, args: ["lsp"] };
  client = new LanguageClient(
    "semc",
    "semc",
    { run: server, debug: server },
    { documentSelector: [{ scheme: "file", language: "sem" }] }
  );
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
