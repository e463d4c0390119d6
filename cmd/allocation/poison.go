package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"allocation/app"
)

// poisonUsage documents the poison queue commands.
const poisonUsage = `Usage:
  allocation poison list   [--service-url URL] [--json] [--page-size N]
  allocation poison replay [--service-url URL] (--id ID [--id ID ...] | --all)

list shows the parked messages (id, time, original topic, handler, reason,
payload), asking the service for N at a time (default and most 1000);
replay sends them back to their original topic and removes them
from the poison queue. Both talk to a running service's admin API, so they
work the same for every broker. URL defaults to the service at HTTP_ADDR.
The admin API needs the service's token: set ADMIN_TOKEN to the same value
as the service's (it is sent as "Authorization: Bearer $ADMIN_TOKEN").
`

// runPoison implements "allocation poison ...".
func runPoison(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 || (args[0] != "list" && args[0] != "replay") {
		fmt.Fprint(stderr, poisonUsage)
		if len(args) > 0 && (args[0] == "-h" || args[0] == "--help" || args[0] == "help") {
			return 0
		}
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("allocation poison "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, poisonUsage) }
	serviceURL := fs.String("service-url", defaultServiceURL(getenv("HTTP_ADDR")), "base URL of the running service")
	asJSON := fs.Bool("json", false, "list: print JSON instead of a table")
	pageSize := fs.Int("page-size", app.MaxPoisonPageLimit, "list: messages per request to the service (pages until the last)")
	all := fs.Bool("all", false, "replay: every parked message")
	var ids stringList
	fs.Var(&ids, "id", "replay: id of a parked message (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	client := poisonClient{base: strings.TrimRight(*serviceURL, "/"), token: getenv("ADMIN_TOKEN"), pageSize: min(max(*pageSize, 1), app.MaxPoisonPageLimit), http: &http.Client{Timeout: 30 * time.Second}}
	var err error
	switch verb {
	case "list":
		err = client.list(stdout, *asJSON)
	case "replay":
		if *all == (len(ids) > 0) {
			fmt.Fprintln(stderr, "allocation poison replay: give --id (one or more) or --all")
			return 2
		}
		err = client.replay(stdout, ids, *all)
	}
	if err != nil {
		fmt.Fprintf(stderr, "allocation poison %s: %v\n", verb, err)
		return 1
	}
	return 0
}

func defaultServiceURL(httpAddr string) string {
	if httpAddr == "" {
		httpAddr = ":8080"
	}
	host, port, err := net.SplitHostPort(httpAddr)
	if err != nil {
		return "http://" + httpAddr
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

type poisonClient struct {
	base     string
	token    string
	pageSize int
	http     *http.Client
}

func (c poisonClient) list(out io.Writer, asJSON bool) error {
	parked, err := c.listAll()
	if err != nil {
		return err
	}
	if asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(parked)
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tPARKED AT\tTOPIC\tHANDLER\tREASON\tPAYLOAD")
	for _, p := range parked {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.ParkedAt.Format(time.RFC3339), p.Topic, p.Handler, oneLine(p.Reason), oneLine(p.Payload))
	}
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d parked message(s)\n", len(parked))
	return nil
}

// listAll pages through the poison queue, the largest pages the service
// gives, each starting after the last message of the one before.
func (c poisonClient) listAll() ([]app.ParkedMessage, error) {
	var all []app.ParkedMessage
	after := ""
	for {
		query := url.Values{"limit": {strconv.Itoa(c.pageSize)}}
		if after != "" {
			query.Set("after", after)
		}
		var page []app.ParkedMessage
		if err := c.call("GET", "/admin/poison?"+query.Encode(), nil, &page); err != nil {
			return nil, err
		}
		all = append(all, page...)
		if len(page) < c.pageSize {
			return all, nil
		}
		after = page[len(page)-1].ID
	}
}

func (c poisonClient) replay(out io.Writer, ids []string, all bool) error {
	body, err := json.Marshal(map[string]any{"ids": ids, "all": all})
	if err != nil {
		return err
	}
	var result struct {
		Replayed []string `json:"replayed"`
	}
	if err := c.call("POST", "/admin/poison/replay", body, &result); err != nil {
		return err
	}
	for _, id := range result.Replayed {
		fmt.Fprintf(out, "replayed %s\n", id)
	}
	fmt.Fprintf(out, "%d message(s) replayed\n", len(result.Replayed))
	return nil
}

func (c poisonClient) call(method, path string, body []byte, into any) error {
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("is the service running at %s? %w", c.base, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(raw, &e)
		if resp.StatusCode == http.StatusUnauthorized && c.token == "" {
			e.Message += " (ADMIN_TOKEN is not set here: set it to the service's)"
		}
		return fmt.Errorf("%s %s: %s %s", method, path, resp.Status, e.Message)
	}
	return json.Unmarshal(raw, into)
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		return s[:117] + "..."
	}
	return s
}
