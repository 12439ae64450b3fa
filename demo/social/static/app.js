// 示范圈: every post on the page is put there by this script, from the JSON API. The HTML has none.
(function () {
  "use strict";
  var body = document.body;
  var view = body.dataset.view;

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function getJSON(url) {
    return fetch(url, { headers: { Accept: "application/json" } }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    });
  }

  function card(post) {
    var article = el("article", "post-card");
    article.dataset.id = post.id;
    var head = el("div", "card-head");
    var author = el("a", "author", post.author);
    author.href = "/social/u/" + post.handle;
    head.appendChild(author);
    head.appendChild(el("time", "post-time", post.posted_at));
    article.appendChild(head);
    article.appendChild(el("p", "excerpt", post.excerpt));
    var foot = el("div", "card-foot");
    var link = el("a", "post-link", "查看全文");
    link.href = post.url;
    foot.appendChild(link);
    foot.appendChild(el("span", "comment-count", "评论 " + post.comments));
    article.appendChild(foot);
    return article;
  }

  function feedView(infinite) {
    var feed = document.getElementById("feed");
    var button = document.querySelector("button.load-more");
    var end = document.querySelector("p.feed-end");
    var source = body.dataset.source;
    var next = 0;
    var loading = false;

    function load() {
      if (loading || next === null) return;
      loading = true;
      if (button) button.disabled = true;
      var url = source + (source.indexOf("?") >= 0 ? "&" : "?") + "offset=" + next;
      getJSON(url)
        .then(function (data) {
          data.posts.forEach(function (post) {
            feed.appendChild(card(post));
          });
          if (next === 0 && data.posts.length === 0) {
            feed.appendChild(el("p", "feed-empty", "没有找到相关动态"));
          }
          next = data.next;
          feed.dataset.loaded = "1";
          if (button) {
            button.hidden = next === null;
            button.disabled = false;
          }
          if (next === null) end.hidden = false;
        })
        .catch(function (err) {
          feed.appendChild(el("p", "feed-error", "加载失败：" + err.message));
        })
        .then(function () {
          loading = false;
          fillScreen();
        });
    }

    // infinite scroll: load more whenever the bottom of the feed is on screen (also right after a load that
    // left it there), as sites do to fill the window
    var sentinel = document.querySelector("div.sentinel");
    function fillScreen() {
      if (infinite && next !== null && sentinel.getBoundingClientRect().top < window.innerHeight) load();
    }

    if (button) button.addEventListener("click", load);
    if (infinite && "IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries[0].isIntersecting) load();
      }).observe(sentinel);
    }
    load();
  }

  function postView() {
    var box = document.getElementById("post");
    getJSON("/social/api/post/" + body.dataset.post)
      .then(function (post) {
        var article = el("article", "post");
        article.dataset.id = post.id;
        var head = el("header", "post-head");
        var author = el("a", "author", post.author);
        author.href = "/social/u/" + post.handle;
        head.appendChild(author);
        var time = el("time", "post-time", post.posted_at);
        time.setAttribute("datetime", post.posted_at.replace(" ", "T") + ":00+08:00");
        head.appendChild(time);
        article.appendChild(head);
        var text = el("div", "post-text");
        post.text.forEach(function (line) {
          text.appendChild(el("p", "", line));
        });
        article.appendChild(text);
        var comments = el("section", "comments");
        comments.appendChild(el("h2", "", "评论（" + post.comments.length + "）"));
        var list = el("ul", "comment-list");
        post.comments.forEach(function (c) {
          var item = el("li", c.by_author ? "comment by-author" : "comment");
          item.appendChild(el("span", "comment-author", c.author));
          if (c.by_author) item.appendChild(el("span", "badge", "作者"));
          item.appendChild(el("time", "comment-time", c.posted_at));
          item.appendChild(el("p", "comment-text", c.text));
          list.appendChild(item);
        });
        if (!post.comments.length) list.appendChild(el("li", "no-comment", "还没有评论"));
        comments.appendChild(list);
        article.appendChild(comments);
        box.appendChild(article);
        document.title = post.author + "：" + post.excerpt + " - 示范圈";
      })
      .catch(function (err) {
        box.appendChild(el("p", "missing", "该内容不存在或已被删除（" + err.message + "）"));
      });
  }

  if (view === "feed" || view === "author") feedView(false);
  else if (view === "search") feedView(true);
  else if (view === "post") postView();
})();
