// The development GraphQL IDE, from files the app serves itself (web/vendor/graphiql).
// A classic script: React and GraphiQL are the UMD globals loaded before it.
(function () {
  "use strict";
  // The token of the web sign-in (web/js/api.js), so GraphiQL starts signed in too.
  var token = localStorage.getItem("bipa.token") || "";
  var url = new URL("/graphql", window.location.href);
  var socket = new URL(url);
  socket.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  var headers = token ? { Authorization: "Bearer " + token } : {};
  var fetcher = GraphiQL.createFetcher({
    url: url.toString(),
    subscriptionUrl: socket.toString(),
    headers: headers,
    // The websocket takes the token in connection_init (the server reads it there).
    wsConnectionParams: token ? { authorization: "Bearer " + token } : {},
  });
  var explorer = GraphiQLPluginExplorer.explorerPlugin();
  var root = ReactDOM.createRoot(document.getElementById("graphiql"));
  root.render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      plugins: [explorer],
      defaultEditorToolsVisibility: true,
      defaultHeaders: JSON.stringify(headers, null, 2),
      defaultQuery: "{\n  me {\n    id\n    name\n    role\n  }\n}\n",
    }),
  );
})();
